"""Which types a skops model file may create, and who approved them.

skops loads only the types in its built-in safe set unless the caller trusts more
(`skops.io.get_untrusted_types` lists the others; see gaodi.engines.evaluation.adapters.skops_model).
On the platform the testing institution reviews that list and approves it type by type
(`evaluation_actions.approve_types`); the run then passes exactly the approved types as `trusted=`.

Some types can never be approved, by anyone: a type is refused when its name is not a plain dotted
name; when it comes from a module that reaches the operating system, the interpreter, the network,
native code or a deserialiser (builtins, os, subprocess, sys, importlib, pickle, marshal…), or wraps
arbitrary functions (types.FunctionType, functools.partial, operator…); when it lies outside
scikit-learn, NumPy and SciPy; when it is one of their file or pickle readers and writers (numpy.load,
numpy.fromfile, scipy.io…); and when the name does not resolve, in the platform's own installed
scikit-learn, NumPy and SciPy, to a class or function those packages define (so a re-export such as
`numpy.some_module.os` is refused too). Resolving imports the named package module only; the model
file is never loaded here.
"""

from __future__ import annotations

import importlib
import re
import types as pytypes
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from django.utils.translation import gettext as _

ALLOWED_PACKAGES = ("sklearn", "numpy", "scipy")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")

# Top-level modules refused with a specific reason (everything outside ALLOWED_PACKAGES is refused anyway).
_DANGEROUS_MODULES = {
    "builtins": "builtins", "__builtin__": "builtins",
    **dict.fromkeys(("os", "posix", "nt", "subprocess", "shutil", "pty", "signal", "multiprocessing",
                     "pathlib", "tempfile", "io", "_io", "glob", "fcntl", "resource"), "os"),
    **dict.fromkeys(("sys", "importlib", "runpy", "code", "codeop", "imp", "pkgutil", "zipimport", "gc",
                     "inspect", "ast"), "interpreter"),
    **dict.fromkeys(("pickle", "_pickle", "cPickle", "marshal", "shelve", "copyreg", "dill", "cloudpickle",
                     "joblib", "torch"), "deserialiser"),
    **dict.fromkeys(("types", "functools", "operator", "_operator", "_functools", "ctypes", "_ctypes", "cffi"),
                    "callables"),
    **dict.fromkeys(("socket", "_socket", "ssl", "urllib", "http", "requests", "ftplib", "smtplib", "telnetlib",
                     "webbrowser", "xmlrpc", "asyncio"), "network"),
}
# Inside the allowed packages: modules and functions that read or write files, load pickles, compile
# or test code. Checked on the given name and on the name of the object it resolves to.
_DENIED_MODULE_PARTS = {"f2py", "distutils", "testing", "_testing", "ctypeslib", "npyio", "_npyio_impl",
                        "_datasource", "io", "datasets", "externals", "format", "_format_impl", "_joblib",
                        "_pytesttester", "_build_utils", "conftest", "tests", "_testutils", "estimator_checks",
                        "pickle", "_pickle", "compat", "_internal"}
_DENIED_NAMES = {"memmap", "open_memmap", "genfromtxt", "fromregex", "DataSource", "get_include", "show_config",
                 "test", "set_config", "config_context", "show_versions"}
# Functions named like these read, write, fetch or open files (numpy.load, scipy.sparse.load_npz, numpy.fromfile…).
_DENIED_PREFIXES = ("load", "save", "read", "write", "fetch", "dump", "open", "fromfile", "tofile", "mmread",
                    "mmwrite")


def _reason_text(code: str, detail: str) -> str:
    texts = {
        "syntax": _("不是合法的类型名（须为“模块.名称”，不含双下划线名称）。"),
        "builtins": _("Python 内置函数与类型（如 eval、exec、open、getattr）可以执行任意代码或读写文件。"),
        "os": _("操作系统接口可以读写、删除文件或启动程序（os、posix、nt、subprocess 等）。"),
        "interpreter": _("解释器与导入机制（sys、importlib 等）可以加载并执行任意代码。"),
        "deserialiser": _("反序列化模块（pickle、marshal、joblib 等）在加载时会执行文件中的任意代码。"),
        "callables": _("可以由代码对象构造函数，或包装并调用任意函数（如 types.FunctionType、functools.partial、"
                       "operator），让人看不出实际调用的是什么。"),
        "network": _("网络模块可以连接外部或内网地址。"),
        "outside": _("不属于 scikit-learn、NumPy 或 SciPy，平台无法确认其安全。"),
        "io": _("属于读写文件、加载 pickle、编译或测试代码的功能（如 numpy.load、numpy.fromfile、scipy.io）。"),
        "missing": _("在平台安装的 scikit-learn、NumPy、SciPy 中找不到（模型可能由其他版本保存）。"),
        "module": _("指向的是一个模块，而不是类或函数。"),
        "alias": _("实际指向 %(target)s，不属于 scikit-learn、NumPy 或 SciPy。") % {"target": detail},
        "not_callable": _("既不是类也不是函数，无法由模型文件创建。"),
    }
    return str(texts.get(code, code))


def refusal_reason(name: str) -> str | None:
    """Why `name` can never be approved (a sentence for the page), or None when the institution may approve it."""
    found = _refusal(name)
    return None if found is None else _reason_text(*found)


def approvable(name: str) -> bool:
    return _refusal(name) is None


@lru_cache(maxsize=1024)
def _refusal(name: str) -> tuple[str, str] | None:
    if not isinstance(name, str) or not _NAME.fullmatch(name) or any(
            part.startswith("__") and part.endswith("__") for part in name.split(".")):
        return ("syntax", "")
    parts = name.split(".")
    top = parts[0]
    if top in _DANGEROUS_MODULES:
        return (_DANGEROUS_MODULES[top], "")
    if top not in ALLOWED_PACKAGES:
        return ("outside", "")
    if _denied(parts):
        return ("io", "")
    module_name, attribute = ".".join(parts[:-1]), parts[-1]
    try:  # the package's own module, as skops would import it at load time (never the model file)
        target = getattr(importlib.import_module(module_name), attribute)
    except Exception:
        return ("missing", "")
    if isinstance(target, pytypes.ModuleType):
        return ("module", "")
    if not callable(target):
        return ("not_callable", "")
    defined_in = getattr(target, "__module__", None)
    if not isinstance(defined_in, str):
        defined_in = type(target).__module__
    real = f"{defined_in}.{getattr(target, '__qualname__', getattr(target, '__name__', attribute))}"
    if defined_in.split(".")[0] not in ALLOWED_PACKAGES:
        return ("alias", real)
    if _denied(real.split(".")):
        return ("io", "")
    return None


def _denied(parts: list[str]) -> bool:
    name = parts[-1]
    return (name in _DENIED_NAMES or name.lower().startswith(_DENIED_PREFIXES)
            or any(part in _DENIED_MODULE_PARTS for part in parts[:-1]))


# ---- the request's types and their approvals ----------------------------------------------------

@dataclass(frozen=True)
class TypeReview:
    """One type a request's skops file would create, as the request page and the API show it."""

    name: str
    status: str  # approved, pending (the institution may approve it), refused (nobody may)
    reason: str = ""
    approved_by: str = ""
    approved_at: datetime | None = None
    note: str = ""


def approved_types(request) -> list[str]:
    """Every type the institution approved for this request (all its approval records together)."""
    names: set[str] = set()
    for approval in request.type_approvals.all():
        names.update(approval.types)
    return sorted(names)


def trusted_types(request) -> list[str]:
    """What the run passes as `trusted=`: the approved types, less any the current rules refuse."""
    return [name for name in approved_types(request) if approvable(name)]


def pending_types(request) -> list[str]:
    """Types the model file would create that nobody approved yet (refused ones included)."""
    approved = set(approved_types(request))
    return [name for name in request.untrusted_types or [] if name not in approved]


def review(request) -> list[TypeReview]:
    approvals = {}
    for approval in request.type_approvals.select_related("approved_by").order_by("approved_at", "id"):
        for name in approval.types:
            approvals.setdefault(name, approval)
    rows = []
    for name in request.untrusted_types or []:
        if (reason := refusal_reason(name)) is not None:  # even if approved under an older rule
            rows.append(TypeReview(name, "refused", reason))
        elif name in approvals:
            a = approvals[name]
            rows.append(TypeReview(name, "approved", approved_by=a.approved_by.get_username(),
                                   approved_at=a.approved_at, note=a.note))
        else:
            rows.append(TypeReview(name, "pending"))
    return rows
