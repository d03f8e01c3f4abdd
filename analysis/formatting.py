"""Rounding shared by the page and the downloads, so they agree to the last digit shown."""

DECIMALS = 2


def fmt_number(value, decimals: int = DECIMALS) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f"{float(value):.{int(decimals)}f}"


def fmt_p(value) -> str:
    if value is None:
        return "–"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def fmt_p_clause(value) -> str:
    """The p value as it follows "p": "= 0.016", or "< 0.001" (never "= <0.001")."""
    text = fmt_p(value)
    return f"< {text[1:]}" if text.startswith("<") else f"= {text}"


def fmt_ci(estimate: dict | None, decimals: int = DECIMALS) -> str:
    if not estimate or estimate.get("ci_low") is None:
        return "–"
    return f"{fmt_number(estimate['ci_low'], decimals)} to {fmt_number(estimate['ci_high'], decimals)}"
