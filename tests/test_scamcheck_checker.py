"""The scam checker as a pure function: the project's labelled set, links, numbers, amounts,
negation, the signals file's own checks and the command line."""

from __future__ import annotations

import io
import json
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.scamcheck import cli
from bot.scamcheck.checker import Verdict, check
from bot.scamcheck.rules import DEFAULT_RULES_PATH, RulesError, default_rules, parse_rules
from broadcasts.tips import load_tip_library

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Labelled:
    text: str
    language: str
    scam: bool
    kind: str | None  # the expected kind of a scam ("-" in the file: none in particular)


def labelled_set() -> list[Labelled]:
    """tests/data/scamcheck_*.txt: scams as `kind|language|text`, ordinary as `language|text`."""
    items: list[Labelled] = []
    for line in (DATA / "scamcheck_scams.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            kind, language, text = line.split("|", 2)
            items.append(Labelled(text, language, True, None if kind == "-" else kind))
    for line in (DATA / "scamcheck_ordinary.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            language, text = line.split("|", 1)
            items.append(Labelled(text, language, False, None))
    return items


def test_the_labelled_set_covers_every_kind_in_three_languages() -> None:
    items = labelled_set()
    scams = [i for i in items if i.scam]
    ordinary = [i for i in items if not i.scam]
    assert len(items) >= 200 and len(scams) >= 100 and len(ordinary) >= 100
    assert {i.kind for i in scams if i.kind} == set(default_rules().kinds)
    for group in (scams, ordinary):
        assert set(Counter(i.language for i in group)) == {"zh-CN", "zh-TW", "en"}
    assert len({i.text for i in items}) == len(items)


def test_scams_are_caught_and_ordinary_messages_are_not_rated_high_risk() -> None:
    items = labelled_set()
    scams = [i for i in items if i.scam]
    ordinary = [i for i in items if not i.scam]
    missed = [i.text for i in scams if check(i.text).verdict is Verdict.NONE]
    high = [i.text for i in ordinary if check(i.text).verdict is Verdict.HIGH]
    assert len(missed) / len(scams) <= 0.1, missed
    assert len(high) / len(ordinary) <= 0.03, high
    wrong_kind = [(i.kind, check(i.text).kind, i.text) for i in scams
                  if i.kind and check(i.text).kind != i.kind]
    assert len(wrong_kind) / len(scams) <= 0.1, wrong_kind


@pytest.mark.parametrize(("text", "verdict", "kind", "signal"), [
    ("【公安局】您的银行卡涉嫌洗钱，请把资金转入安全账户配合调查，不要告诉家人。",
     Verdict.HIGH, "fake_police", "safe_account"),
    ("您的醫保卡異常已被凍結，請點擊 http://nhsa-gov.top/x 處理，否則將影響報銷",
     Verdict.HIGH, "medical_card", "card_abnormal"),
    ("Your parcel could not be delivered. Update your address: http://usps-redelivery.top/t",
     Verdict.HIGH, "fake_service", "lookalike"),
    ("在家刷单，一单佣金30元，日结", Verdict.HIGH, "brushing", "brushing"),
    ("我这边急需用钱，这是我的新号码", Verdict.SUSPICIOUS, "impersonation", "urgent_money"),
    ("明天下午三点在社区活动室开会，请各楼长准时参加。", Verdict.NONE, None, None),
    ("【工商银行】您的验证码为482913，5分钟内有效，请勿泄露给他人。", Verdict.NONE, None, None),
])
def test_verdicts_kinds_and_signals(text: str, verdict: Verdict, kind: str | None,
                                    signal: str | None) -> None:
    result = check(text)
    assert result.verdict is verdict
    assert result.kind == kind
    if signal is not None:
        assert signal in {f.signal for f in result.findings}


def test_a_negation_before_the_words_turns_them_into_a_warning() -> None:
    assert check("公安机关不会通过电话要求您把钱转到安全账户。").verdict is Verdict.NONE
    assert check("请把钱转到安全账户。").verdict is Verdict.HIGH
    assert check("Officers will never ask you to move money to a safe account.").verdict \
        is Verdict.NONE


def test_a_reminder_that_names_scams_is_not_high_risk_but_a_scam_saying_it_is_none_is() -> None:
    reminder = ("社区民警提醒：凡是让您开屏幕共享、下载会议软件的，都是诈骗！"
                "网上刷单要先垫钱的，一律是骗局。Anyone asking you to move money to a safe "
                "account is a scam.")
    assert check(reminder).verdict is Verdict.NONE
    # Only the sentence that names the scam describes it; the next one still counts.
    result = check("凡是要您转到安全账户的都是诈骗。请把钱转到安全账户。")
    assert [f.evidence for f in result.findings if f.signal == "safe_account"] == ["安全账户"]
    assert result.verdict is not Verdict.NONE
    assert check("这不是诈骗，请把钱转到安全账户。").verdict is Verdict.HIGH


def test_someone_retelling_that_a_job_is_a_con_is_not_high_risk() -> None:
    retold = "网上有人说刷单能赚钱，问了派出所的朋友，说全是骗人的，大家别信。"
    assert check(retold).verdict is not Verdict.HIGH
    assert check("网上刷单能赚钱，一单佣金30元。").verdict is Verdict.HIGH


def test_a_story_and_a_money_move_are_suspicious_together_and_the_story_alone_is_not() -> None:
    story = "您的贷款已审批通过，额度5万元。"
    assert check(story).verdict is Verdict.NONE
    together = check(story + "放款前请先缴纳3000元认证金。")
    assert together.verdict is not Verdict.NONE
    assert together.kind == "loan"
    assert check("Your loan of $20,000 is approved. Pay a $300 insurance fee first to release "
                 "the funds.").verdict is not Verdict.NONE


def test_a_question_offering_both_answers_is_not_a_negation() -> None:
    assert check("能不能先借我两千？").verdict is Verdict.SUSPICIOUS
    assert check("不能先借我两千。").verdict is Verdict.NONE


def test_a_verb_complement_or_an_if_not_threat_is_not_a_negation() -> None:
    # “抢不到” is “cannot get”, “不处理就……” is a threat: neither says the move will not happen.
    assert "off_platform" in {f.signal for f in check("小黄车抢不到的加我微信私下交易").findings}
    assert check("今天不处理就得把存款转到安全账户。").verdict is Verdict.HIGH
    assert check("今天不会要求您把存款转到安全账户。").verdict is Verdict.NONE


def test_a_space_between_chinese_clauses_ends_the_negation_before_it() -> None:
    assert check("你看这个靠谱不 群里说在家兼职日赚300").verdict is Verdict.HIGH
    assert check("不要信在家兼职日赚300").verdict is Verdict.NONE


@pytest.mark.parametrize(("link", "signal"), [
    ("t.cn/A6xYz", "shortener"),
    ("https://bit.ly/3abc", "shortener"),
    ("http://192.168.40.7/get", "raw_ip"),
    ("http://update-app.cn/bank.apk", "apk"),
    ("http://icbc-secure-login.com/x", "lookalike"),
    ("www.gov-cn.top/subsidy", "lookalike"),
    ("12306-refund.com", "lookalike"),
    ("https://www.icbc.com.cn/", "any"),
    ("http://www.nhsa.gov.cn/art", "any"),
])
def test_links_are_read_and_judged(link: str, signal: str) -> None:
    result = check(f"详情请看 {link} 谢谢")
    assert result.links == (link,)
    assert signal in {f.signal for f in result.findings}


@pytest.mark.parametrize(("text", "phone", "signal"), [
    ("请回电 +1 646 555 0199", "+1 646 555 0199", "overseas"),
    ("咨询电话：00852 6123 4567", "00852 6123 4567", "overseas"),
    ("请致电 955881234 解除限制", "955881234", "fake_official"),
    ("客服 +95588", "+95588", "fake_official"),
    ("详询95588", "95588", None),
    ("配送员电话13812345678", "13812345678", None),
    ("请拨打 +86 138 1234 5678", "+86 138 1234 5678", None),
])
def test_phone_numbers_are_read_and_judged(text: str, phone: str, signal: str | None) -> None:
    result = check(text)
    assert phone in result.phones
    number_signals = {f.signal for f in result.findings} & {"overseas", "fake_official"}
    assert number_signals == ({signal} if signal else set())


def test_a_plus_one_in_a_group_chat_is_not_an_overseas_number() -> None:
    result = check("揪團買鳳梨酥，要的人在群組+1")
    assert result.phones == ()
    assert result.verdict is Verdict.NONE


def test_digits_after_letters_are_a_tracking_number_not_an_overseas_phone() -> None:
    result = check("【京东】您的订单已出库，京东快递单号JD0098765432100，预计明天送达。")
    assert result.phones == ()
    assert result.verdict is Verdict.NONE


def test_order_numbers_dates_and_amounts_are_not_phone_numbers() -> None:
    result = check("订单号123456789于2024-11-03发货，金额5,000元，另付两万元和¥300。")
    assert result.phones == ()
    assert result.amounts == ("5,000元", "两万元", "¥300")


def test_every_kind_and_signal_explains_itself_in_three_languages_and_names_a_real_tip() -> None:
    rules = default_rules()
    tips = {tip.id for tip in load_tip_library()}
    assert rules.tip_ids() <= tips
    for kind in rules.kinds.values():
        assert all(kind.name.text(lang) for lang in ("zh-CN", "zh-TW", "en"))
    for signal in (*rules.signals, *rules.computed.values()):
        texts = [signal.explanation.text(lang) for lang in ("zh-CN", "zh-TW", "en")]
        assert len(set(texts)) == 3, signal.id
    # zh-TW texts are written in traditional characters.
    simplified = set("这说们个来时对为会发钱账户转证码号银认将冻结异医险养"
                     "点击链网贷额费缴纳机关检诈骗")
    for item in (*rules.signals, *rules.computed.values()):
        assert not set(item.explanation.text("zh-TW")) & simplified, item.id
    for kind in rules.kinds.values():
        assert not set(kind.name.text("zh-TW")) & simplified, kind.id


def _raw() -> dict:
    with DEFAULT_RULES_PATH.open("rb") as handle:
        return tomllib.load(handle)


@pytest.mark.parametrize(("change", "named"), [
    (lambda d: d["signal"][0].update(patterns=["(unclosed"]), "safe_account"),
    (lambda d: d["signal"][0].pop("en"), "safe_account"),
    (lambda d: d["signal"][0].update(kind="nonsense"), "nonsense"),
    (lambda d: d["kind"][0].update(tip="no-such-tip"), "no-such-tip"),
    (lambda d: d["verdict"].update(high=1), "verdict"),
])
def test_a_wrong_signals_file_is_refused_naming_the_item(change, named: str) -> None:
    data = _raw()
    change(data)
    with pytest.raises(RulesError, match=named):
        parse_rules(data, tip_ids={tip.id for tip in load_tip_library()})


def test_the_command_line_prints_one_verdict_per_json_line() -> None:
    stdin = io.StringIO('{"text": "您的医保卡异常，请点击 t.cn/Ab12 处理"}\n\n'
                        '{"text": "明天开会"}\nnot json\n')
    stdout = io.StringIO()
    assert cli.run(stdin, stdout) == 1
    lines = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert lines[0]["verdict"] == "high" and lines[0]["kind"] == "medical_card"
    assert "card_abnormal" in lines[0]["signals"] and lines[0]["links"] == ["t.cn/Ab12"]
    assert lines[1] == {"verdict": "none", "kind": None, "signals": [], "score": 0, "links": [],
                        "phones": [], "amounts": []}
    assert lines[2] == {"error": 'line 4: expected {"text": "..."}'}
