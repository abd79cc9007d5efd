"""The RPC contract (issue 13) agrees with its samples, with the services' ``@rpc``
methods and with every call the services make; it refuses what breaks it."""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import pytest

from gridgov_common.contract import rpc as contract

ROOT = Path(__file__).resolve().parents[2]


def rpc_methods() -> dict[str, tuple[tuple[str, ...], int]]:
    """``service.method`` → (positional parameter names, how many are required) of every
    ``@rpc`` entrypoint in services/*/service.py."""
    found = {}
    for path in sorted(ROOT.glob("services/*/service.py")):
        service = path.parent.name
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and any(
                    isinstance(d, ast.Name) and d.id == "rpc" for d in node.decorator_list):
                names = tuple(a.arg for a in node.args.args[1:])
                found[f"{service}.{node.name}"] = (names, len(names) - len(node.args.defaults))
    return found


def called_methods() -> set[str]:
    """Method names the services pass to ``….call("name", …)`` / ``._call("name", …)``."""
    names = set()
    for path in ROOT.glob("services/**/*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in {"call", "_call"} and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):
                names.add(node.args[0].value)
    return names


def test_every_rpc_entrypoint_is_in_the_contract_with_its_parameters():
    implemented = rpc_methods()
    assert len(implemented) >= 17
    declared = {key: (m.params, m.required) for key, m in contract.METHODS.items()}
    assert implemented == declared


def test_every_method_a_service_calls_is_in_the_contract():
    names = {m.name for m in contract.METHODS.values()}
    assert called_methods() - names == set()
    assert len(called_methods()) >= 12


@pytest.mark.parametrize("key", sorted(contract.METHODS))
def test_each_sample_keeps_the_contract(key):
    service, name = key.split(".")
    sample = contract.sample(key)
    contract.check_call(service, name, tuple(sample["args"]))
    assert contract.check_reply(service, name, sample["reply"]) == sample["reply"]


def test_a_reply_without_a_promised_field_is_refused():
    sample = contract.sample("dispatch.kpis")
    broken = copy.deepcopy(sample["reply"])
    del broken["rows"][0]["code"]
    with pytest.raises(contract.RpcContractError) as caught:
        contract.check_reply("dispatch", "kpis", broken)
    assert caught.value.side == "the reply" and "rows" in str(caught.value.errors)
    extra = {**sample["reply"], "added_later": 1}  # a producer may add fields
    assert contract.check_reply("dispatch", "kpis", extra) == extra


def test_calls_with_the_wrong_arguments_or_null_replies_are_refused():
    with pytest.raises(contract.RpcContractError, match="1 arguments for 2..2"):
        contract.check_call("registry", "lookup_point", (120.0,))
    with pytest.raises(contract.RpcContractError, match="grid_code"):
        contract.check_call("registry", "get_grid_summary", ("not a code",))
    with pytest.raises(contract.RpcContractError, match="no such method"):
        contract.check_call("registry", "drop_tables", ())
    with pytest.raises(contract.RpcContractError, match="null where a value is due"):
        contract.check_reply("registry", "get_grid_summary", None)
    assert contract.check_reply("registry", "lookup_point", None) is None


def test_the_doc_lists_the_methods_as_the_code_declares_them():
    doc = (ROOT / "docs" / "RPC-CONTRACT.md").read_text(encoding="utf-8")
    start = doc.index(contract.START) + len(contract.START)
    assert doc[start:doc.index(contract.END)] == contract.markdown_table()
