"""The across-visits model: a linear mixed model with a random intercept per patient, fitted by REML.

Pure numpy/scipy (no Django), like analysis.statistics, which re-exports `mixed_model`.

Model: value = visit + arm + visit x arm + u(patient) + e, with u ~ N(0, gamma * s2) and
e ~ N(0, s2). It is the model statsmodels' MixedLM fits for `value ~ C(visit) * treated`
with `groups=patient` and `reml=True`, and gives the same estimates, standard errors and p
values (tests/analysis/test_mixed_model.py fits both on the same data). MixedLM cannot be
used directly at trial scale: its optimizer solves a small system per patient in Python at
every step, tens of seconds at 10,000 patients (docs/benchmarks.md). With a single random
intercept the covariance of a patient's values is s2 * (I + gamma * J), whose inverse and
determinant have closed forms, so every quantity reduces to sums per patient:

- for a given gamma, the fixed effects are generalized least squares, and s2 is profiled out;
- the REML criterion is then a function of gamma alone, minimized by scipy's bounded scalar
  optimizer (Brent's method) after a coarse grid, on gamma = theta**2 >= 0;
- the covariance of the fixed effects is the inverse of the observed information of the
  profile likelihood in (fixed effects, gamma), as MixedLM computes it;
- tests and intervals use the normal distribution (scipy.stats.norm), as MixedLM reports them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, sparse, stats

CONFIDENCE = 0.95
# theta = sqrt(gamma), the between-patient SD relative to the residual SD, is searched in [0, THETA_MAX].
THETA_MAX = 1000.0
BOUNDARY = 1e-4  # a theta below this is "on the boundary" (between-patient variance ~ 0)
BOUNDARY_WARNING = (
    "ConvergenceWarning: the between-patient variance is estimated at zero, on the boundary of the parameter "
    "space; the model reduces to ordinary least squares and its estimates may be unreliable"
)
UPPER_WARNING = (
    "ConvergenceWarning: the between-patient variance did not settle (it runs to the upper limit of the search); "
    "the estimates are unreliable"
)
HESSIAN_WARNING = "the information matrix is not positive definite: standard errors are unreliable"


def _not_estimable(reason: str) -> dict:
    return {"estimates": {}, "converged": False, "warning": None, "not_estimable": reason}


@dataclass(frozen=True)
class _Sums:
    """The data reduced to what the likelihood needs: the design, and its sums per patient."""

    X: np.ndarray  # N x p design
    y: np.ndarray  # N values
    groups: sparse.csr_matrix  # G x N: row g sums the observations of patient g
    n: np.ndarray  # G observations per patient
    XtX: np.ndarray
    Xty: np.ndarray
    yty: float
    S: np.ndarray  # G x p: the design summed per patient
    Sy: np.ndarray  # G: the values summed per patient

    @classmethod
    def of(cls, X: np.ndarray, y: np.ndarray, patient: np.ndarray) -> _Sums:
        codes, _ = pd.factorize(patient)
        G, N = int(codes.max()) + 1, len(y)
        groups = sparse.csr_matrix((np.ones(N), (codes, np.arange(N))), shape=(G, N))
        n = np.bincount(codes, minlength=G).astype(float)
        return cls(X, y, groups, n, X.T @ X, X.T @ y, float(y @ y), groups @ X, groups @ y)

    def weights(self, gamma: float) -> np.ndarray:
        # V_i = I + gamma * J  =>  V_i^-1 = I - c_i * J with c_i = gamma / (1 + n_i * gamma)
        return gamma / (1 + self.n * gamma)

    def normal_equations(self, gamma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(c, X'V^-1X, X'V^-1y) at gamma, from the per-patient sums."""
        c = self.weights(gamma)
        return c, self.XtX - self.S.T @ (c[:, None] * self.S), self.Xty - self.S.T @ (c * self.Sy)

    def gls(self, gamma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """(X'V^-1X, beta, residuals, r'V^-1r) at gamma."""
        c, A, b = self.normal_equations(gamma)
        beta = np.linalg.solve(A, b)
        r: np.ndarray = self.y - self.X @ beta
        R = self.groups @ r
        return A, beta, r, float(r @ r - c @ R**2)

    def criterion(self, theta: float) -> float:
        """-2 x the REML log-likelihood with s2 profiled out, up to a constant.

        From the sums alone (r'V^-1r = y'V^-1y - beta'X'V^-1y at the GLS beta), without the
        residuals that `gls` computes for the final fit: the optimizer calls this dozens of times."""
        gamma = theta * theta
        c, A, b = self.normal_equations(gamma)
        try:
            beta = np.linalg.solve(A, b)
        except np.linalg.LinAlgError:
            return math.inf
        q = self.yty - float(c @ self.Sy**2) - float(b @ beta)
        dof = len(self.y) - self.X.shape[1]
        sign, logdet = np.linalg.slogdet(A)
        if sign <= 0 or q <= 0:
            return math.inf
        return dof * math.log(q) + float(np.log1p(self.n * gamma).sum()) + logdet


def _fit_theta(sums: _Sums) -> tuple[float, bool, str]:
    """theta minimizing the REML criterion: the best point of a coarse grid, refined by Brent's method
    between its neighbours. Returns (theta, converged, optimizer message)."""
    grid = np.concatenate([[0.0], np.logspace(-3, math.log10(THETA_MAX), 25)])
    values = np.array([sums.criterion(t) for t in grid])
    best = int(np.argmin(values))
    low, high = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    result = optimize.minimize_scalar(
        sums.criterion, bounds=(low, high), method="bounded", options={"xatol": 1e-10 + 1e-8 * high}
    )
    theta = float(result.x) if result.fun <= values[best] else float(grid[best])
    return theta, bool(result.success), str(result.message)


def _information(sums: _Sums, gamma: float, A: np.ndarray, r: np.ndarray, q: float) -> np.ndarray:
    """Minus the Hessian of the profile REML log-likelihood in (beta, gamma) at the estimate."""
    dof = len(sums.y) - sums.X.shape[1]
    n, S = sums.n, sums.S
    d = 1 + n * gamma
    R = sums.groups @ r
    # d V_i^-1 / d gamma = -V_i^-1 J V_i^-1, and V_i^-1 1 = 1 / d_i
    h_bb = -dof * A / q
    h_bg = -dof / q * (S.T @ (R / d**2))
    dq = -float(np.sum(R**2 / d**2))
    d2q = float(np.sum(2 * n * R**2 / d**3))
    h_logv = 0.5 * float(np.sum(n**2 / d**2))
    h_q = -0.5 * dof * (d2q / q - dq**2 / q**2)
    A_inv = np.linalg.inv(A)
    M1 = S.T @ (S / d[:, None] ** 2)  # -dA/dgamma
    M2 = S.T @ (S * (2 * n / d**3)[:, None])  # d2A/dgamma2
    h_reml = -0.5 * (np.trace(A_inv @ M2) - np.trace(A_inv @ M1 @ A_inv @ M1))
    h_gg = h_logv + h_q + h_reml
    p = A.shape[0]
    H = np.empty((p + 1, p + 1))
    H[:p, :p], H[:p, p], H[p, :p], H[p, p] = h_bb, h_bg, h_bg, h_gg
    return -H


def _design(data: pd.DataFrame, visits: list[str]) -> tuple[np.ndarray, list[str]]:
    """Intercept, one indicator per follow-up visit, the arm, and visit x arm (treatment coding
    against the baseline visit and the control arm, as `C(visit) * treated`)."""
    treated = data["treated"].to_numpy(dtype=float)
    columns, names = [np.ones(len(data))], ["intercept"]
    indicators = {v: (data["visit"] == v).to_numpy(dtype=float) for v in visits[1:]}
    for visit, indicator in indicators.items():
        columns.append(indicator)
        names.append(f"visit[{visit}]")
    columns.append(treated)
    names.append("treated")
    for visit, indicator in indicators.items():
        columns.append(indicator * treated)
        names.append(f"visit[{visit}]:treated")
    return np.column_stack(columns), names


def mixed_model(frame: pd.DataFrame, *, baseline_visit: str, visit_order: list[str] | None = None) -> dict:
    """Linear mixed model `value ~ C(visit) * treated`, random intercept per patient, REML.

    `frame` has columns patient, treated, visit, value. Returns the arm-by-visit interaction
    estimates (the difference between arms in the change from baseline to each visit), and,
    if the fit did not converge, says so with the warning's text.
    """
    data = frame.dropna(subset=["value"]).copy()
    data["treated"] = data["treated"].astype(int)
    patients = data.groupby("treated")["patient"].nunique()
    if patients.get(1, 0) < 2 or patients.get(0, 0) < 2:
        return _not_estimable("fewer than two patients in an arm")
    if baseline_visit not in set(data["visit"]):
        return _not_estimable("no baseline values")
    if data["visit"].nunique() < 2:
        return _not_estimable("only one visit has values")
    if data["value"].nunique() == 1:
        return _not_estimable("zero variance: every value is identical")
    present = set(data["visit"]) - {baseline_visit}
    order = [v for v in (visit_order or sorted(present)) if v in present]
    visits = [baseline_visit] + order + sorted(present - set(order))
    # A visit seen in one arm only has no visit-by-arm term: its indicator and the interaction coincide.
    arms_at = data.groupby("visit")["treated"].nunique()
    one_arm = {v for v in visits[1:] if arms_at.get(v, 0) < 2}
    X, names = _design(data, visits)
    keep = [i for i, name in enumerate(names) if not any(name == f"visit[{v}]:treated" for v in one_arm)]
    X, names = X[:, keep], [names[i] for i in keep]
    if np.linalg.matrix_rank(X) < X.shape[1]:
        return _not_estimable("the design is singular: the visits and arms cannot be told apart")
    if len(data) - X.shape[1] < 1:
        return _not_estimable("too few observations for the model's terms")

    sums = _Sums.of(X, data["value"].to_numpy(dtype=float), data["patient"].to_numpy())
    try:
        theta, converged, message = _fit_theta(sums)
        gamma = theta * theta
        A, beta, r, q = sums.gls(gamma)
        information = _information(sums, gamma, A, r, q)
        covariance = np.linalg.inv(information)[: len(beta), : len(beta)]
    except np.linalg.LinAlgError as error:
        return _not_estimable(f"the model could not be fitted: {error}")
    messages = []
    if not converged:
        messages.append(f"ConvergenceWarning: {message}")
    if theta < BOUNDARY:
        converged = False
        messages.append(BOUNDARY_WARNING)
    elif theta > THETA_MAX * 0.999:
        converged = False
        messages.append(UPPER_WARNING)
    variances = np.diag(covariance)
    if np.any(variances <= 0) or not np.all(np.isfinite(variances)):
        messages.append(HESSIAN_WARNING)
    z = stats.norm.ppf(0.5 + CONFIDENCE / 2)
    estimates = {}
    for visit in visits[1:]:
        term = f"visit[{visit}]:treated"
        if term not in names:
            estimates[visit] = _estimate(None, None, "no values of both arms at this visit")
            continue
        i = names.index(term)
        se = math.sqrt(variances[i]) if variances[i] > 0 and math.isfinite(variances[i]) else None
        estimates[visit] = _estimate(float(beta[i]), se, None, z=z)
    scale = q / (len(sums.y) - X.shape[1])
    return {
        "estimates": estimates,
        "converged": converged,
        "warning": "; ".join(messages) or None,
        "not_estimable": None,
        "n_patients": int(len(sums.n)),
        "n_observations": int(len(data)),
        "patient_variance": gamma * scale,
        "residual_variance": scale,
    }


def _estimate(value: float | None, se: float | None, reason: str | None, *, z: float = 0.0) -> dict:
    if value is None:
        return {"estimate": None, "ci_low": None, "ci_high": None, "p": None, "not_estimable": reason}
    if se is None:
        return {"estimate": value, "ci_low": None, "ci_high": None, "p": None, "not_estimable": HESSIAN_WARNING}
    return {
        "estimate": value,
        "ci_low": value - z * se,
        "ci_high": value + z * se,
        "p": float(2 * stats.norm.sf(abs(value / se))),
        "not_estimable": None,
    }
