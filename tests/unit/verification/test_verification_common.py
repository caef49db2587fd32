"""The pieces check and report share: one environment escaping HTML only, one evaluator naming packs."""

from __future__ import annotations

from autocloud.verification import common
from policies.packs import ALL_RULES, PACK_RULES


def test_markdown_stays_literal_and_html_is_escaped() -> None:
    env = common.templates()
    source = "{{ value | md_cell }}"
    assert env.from_string(source).render(value="<b>a|b</b>") == "&lt;b&gt;a\\|b&lt;/b&gt;"
    assert not env.autoescape("check.md.j2") and not env.autoescape("report/report.md.j2")  # type: ignore[operator]
    assert env.autoescape("report/report.html.j2")  # type: ignore[operator]


def test_every_rule_is_named_with_its_pack() -> None:
    assert set(common.PACK_OF) == {rule.name for rule in ALL_RULES}
    for pack, rules in PACK_RULES.items():
        assert {common.PACK_OF[rule.name] for rule in rules} == {pack}
    assert common.all_packs() is common.all_packs()


def test_targets_keep_their_order() -> None:
    assert common.map_targets(lambda n: n * n, list(range(20))) == [n * n for n in range(20)]
