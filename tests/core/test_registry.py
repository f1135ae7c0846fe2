"""The registry idiom: registration, duplicates, unknown names, metadata filters, lazy loading."""

import sys

import pytest

from modelreuse._registry import Registry
from modelreuse.errors import ModelReuseError, RegistryError, UnknownNameError


def test_register_get_and_metadata():
    reg = Registry("widget")

    @reg.register("b", spec_kinds=("rkme",))
    class B: ...

    @reg.register("a", spec_kinds=("pave",))
    class A: ...

    assert reg.get("a") is A and reg.get("b") is B
    assert reg.names() == ["a", "b"] and list(reg) == ["a", "b"] and len(reg) == 2
    assert reg.metadata("b") == {"spec_kinds": ("rkme",)}
    assert reg.names(spec_kinds=("pave",)) == ["a"]
    assert "a" in reg and "c" not in reg


def test_duplicate_name_raises_and_names_the_first_owner():
    reg = Registry("widget")
    reg.add("x", int)
    reg.add("x", int)  # the same object again (a module imported twice) is not a conflict
    with pytest.raises(RegistryError, match="already registered.*int"):
        reg.add("x", float)
    assert reg.get("x") is int


@pytest.mark.parametrize("bad", ["", None, 3])
def test_bad_names_are_refused(bad):
    with pytest.raises(RegistryError):
        Registry("widget").add(bad, int)


@pytest.mark.parametrize("name", ["nope", None, ["list"]])
def test_unknown_name_is_typed_and_lists_the_registered(name):
    reg = Registry("widget")
    reg.add("known", int)
    with pytest.raises(UnknownNameError, match="unknown widget.*registered: known") as info:
        reg.get(name)
    assert isinstance(info.value, ModelReuseError)


def test_package_modules_are_imported_on_first_lookup_only(tmp_path, monkeypatch):
    pkg = tmp_path / "lazy_widgets"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from modelreuse._registry import Registry\nREG = Registry('widget', package='lazy_widgets')\n")
    (pkg / "one.py").write_text("from lazy_widgets import REG\n@REG.register('one')\nclass One: ...\n")
    (pkg / "_private.py").write_text("raise RuntimeError('private modules are not imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import lazy_widgets

    assert "lazy_widgets.one" not in sys.modules
    assert lazy_widgets.REG.names() == ["one"]
    assert "lazy_widgets.one" in sys.modules
