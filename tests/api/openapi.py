"""The API's operations as its OpenAPI schema lists them, so tests walk every endpoint, never a hand-kept list."""

from drf_spectacular.generators import SchemaGenerator

WRITE_METHODS = ("post", "put", "patch", "delete")


def operations(methods=None) -> list[tuple[str, str, dict]]:
    """(method, path template, operation) for every operation of the schema, optionally of some methods."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [
        (method, path, operation)
        for path, by_method in schema["paths"].items()
        for method, operation in by_method.items()
        if methods is None or method in methods
    ]


def body_types(operation) -> list[str]:
    return list(operation.get("requestBody", {}).get("content", {}))


def fill(path: str, **values) -> str:
    """The path with its parameters ({study_code}, {id}, {visit_pk}, …) replaced; an unknown one fails loudly."""
    for name, value in values.items():
        path = path.replace("{" + name + "}", str(value))
    assert "{" not in path, f"no value for a parameter of {path}"
    return path
