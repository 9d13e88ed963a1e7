"""Local fixes to Great Expectations 1.24.1's per-expectation overhead, the same results.

GX spends most of a small validation rebuilding what it already has. py-spy over four
incremental runs (one new report each, the six suites: 224 expectations) put 3.3 of the workers'
9.4 s in validate_tables under ColumnMapExpectation.get_validation_dependencies, most of it
Expectation._get_runtime_kwargs, and 1.2 s in IDDict.to_id:

- _get_runtime_kwargs, which GX calls several times per expectation and metric, reads
  `self.configuration` once per domain, success and runtime key (through _get_domain_kwargs,
  _get_success_kwargs and _get_success_kwarg), and `configuration` is a property that rebuilds
  an ExpectationConfiguration from the pydantic model each time (`self.dict()`), naming its type
  with camel_to_snake, two regex substitutions on the class name;
- IDDict.to_id, which GX calls for every MetricConfiguration it makes, converts the kwargs with
  convert_to_json_serializable, which tries some twenty types (four with np.issubdtype) before it
  returns a None as it is.

install() replaces _get_runtime_kwargs with the same computation over one `configuration`,
memoises camel_to_snake where expectation.py uses it (a pure function of a class name), and gives
to_id a short way for plain values (_json_ready; anything else goes to GX's function). The same
keys, defaults and precedence (runtime configuration, then the expectation's kwargs, then the
field's default), the same parse_result_format, the same ids. The six suites on one report's rows:
1.50 -> 0.98 s of CPU; on 2,000 reports' rows 2.24 -> 1.79 s. tests/test_gxpatch.py checks the
patched method against GX's own on every expectation of every suite in expectations/, to_id's
conversion against GX's (a property test), and whole validations with and without the fixes.

Applied only to the version it was written against (GX is pinned to it in pyproject.toml): with
any other version, install() leaves GX as it is and says so (returns False). Upstream, the fix
would be to read `self.configuration.kwargs` once in _get_runtime_kwargs.
"""
from __future__ import annotations

import functools
import threading

GX_VERSION = "1.24.1"
_ORIGINAL: dict = {}          # what install() replaced, while it is installed
_GX_CONVERT = None            # GX's convert_to_json_serializable, for what _json_ready leaves to it
_PARSE_RESULT_FORMAT = None   # GX's parse_result_format (looked up once, not per call)
_LOCK = threading.Lock()      # the flow validates in threads too: one install at a time


def install() -> bool:
    """Apply the fixes (idempotent, thread-safe). -> whether they are applied."""
    global _GX_CONVERT, _PARSE_RESULT_FORMAT
    import great_expectations
    from great_expectations.core import id_dict
    from great_expectations.expectations import expectation as module

    with _LOCK:
        if _ORIGINAL:
            return True
        if great_expectations.__version__ != GX_VERSION:
            return False
        _ORIGINAL.update(runtime_kwargs=module.Expectation._get_runtime_kwargs,
                         camel_to_snake=module.camel_to_snake,
                         json_ready=id_dict.convert_to_json_serializable)
        _GX_CONVERT = _ORIGINAL["json_ready"]
        _PARSE_RESULT_FORMAT = module.parse_result_format
        module.camel_to_snake = functools.lru_cache(maxsize=1024)(module.camel_to_snake)
        module.Expectation._get_runtime_kwargs = _get_runtime_kwargs
        id_dict.convert_to_json_serializable = _json_ready
        return True


def uninstall() -> None:
    """GX as it was (for the tests' comparisons)."""
    from great_expectations.core import id_dict
    from great_expectations.expectations import expectation as module

    with _LOCK:
        if _ORIGINAL:
            module.Expectation._get_runtime_kwargs = _ORIGINAL.pop("runtime_kwargs")
            module.camel_to_snake = _ORIGINAL.pop("camel_to_snake")
            id_dict.convert_to_json_serializable = _ORIGINAL.pop("json_ready")


def installed() -> bool:
    return bool(_ORIGINAL)


def _get_runtime_kwargs(self, runtime_configuration: dict | None = None) -> dict:
    """Expectation._get_runtime_kwargs of GX 1.24.1, reading `self.configuration` once."""
    runtime_configuration = runtime_configuration or {}
    kwargs = self.configuration.kwargs
    fields = self.__fields__

    def default(key: str):   # _get_default_value (and _get_success_kwarg's fallback)
        field = fields.get(key)
        return None if field is None or field.required else field.default

    domain = {key: kwargs.get(key, default(key)) for key in self.domain_keys}
    success = {key: kwargs.get(key, default(key)) for key in self.success_keys}
    success.update(domain)
    runtime = {key: runtime_configuration.get(key, kwargs[key] if key in kwargs else default(key))
               for key in self.runtime_keys}
    runtime.update(success)
    runtime["result_format"] = _PARSE_RESULT_FORMAT(runtime["result_format"])
    return runtime


def _json_ready(data):
    """convert_to_json_serializable for IDDict.to_id, which GX calls for every MetricConfiguration
    it makes (its id: an md5 of the kwargs as JSON), with a short way for the plain values
    kwargs hold. GX's function tries some twenty types, four of them with np.issubdtype, before
    it returns a None as it is; the plain types below come out of it exactly as they go in
    (str, int, bool, None) or as the same conversion of their items (a dict's keys as str; a
    list, tuple or set as a list). Any other type, subclasses included, goes to GX's function."""
    kind = type(data)
    if data is None or kind is str or kind is int or kind is bool:
        return data
    if kind is dict:
        return {str(key): _json_ready(value) for key, value in data.items()}
    if kind is list or kind is tuple or kind is set:
        return [_json_ready(value) for value in data]
    return _GX_CONVERT(data)
