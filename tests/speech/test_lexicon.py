"""Answer lexicons, the grammar spelled in a model's words, and the keypad map."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from speech.lexicon import (
    Grammar,
    Intent,
    Lexicon,
    LexiconError,
    build_grammar,
    dtmf_intent,
    load_lexicon,
    parse_lexicon,
)


def vocab(*words: str) -> Callable[[str], bool]:
    known = frozenset(words)
    return known.__contains__


def lexicon(yes: Iterable[str], no: Iterable[str], language: str = "zh-CN", **more: Iterable[str]) -> Lexicon:
    phrases = {Intent.YES: tuple(yes), Intent.NO: tuple(no)}
    phrases.update({Intent(name): tuple(items) for name, items in more.items()})
    return Lexicon(language, phrases)


class TestShippedLexicons:
    @pytest.mark.parametrize("language", ["zh-CN", "ko-KR"])
    def test_each_has_the_four_answer_intents(self, language: str) -> None:
        lex = load_lexicon(language)
        assert lex.language == language
        assert set(lex.phrases) == {Intent.YES, Intent.NO, Intent.HUMAN, Intent.REPEAT}
        assert all(lex.phrases[intent] for intent in lex.phrases)

    @pytest.mark.parametrize(
        ("phrase", "intent"),
        [("是", Intent.YES), ("是的", Intent.YES), ("对", Intent.YES), ("没有", Intent.NO), ("不是", Intent.NO),
         ("不清楚", Intent.NO), ("不知道", Intent.NO), ("人工", Intent.HUMAN), ("转人工", Intent.HUMAN),
         ("再说一遍", Intent.REPEAT)],
    )
    def test_zh_cn_phrases(self, phrase: str, intent: Intent) -> None:
        lex = load_lexicon("zh-CN")
        assert phrase in lex.phrases[intent]
        assert lex.intent_of(phrase) is intent

    def test_intent_of_ignores_spaces_and_knows_unknown(self) -> None:
        lex = load_lexicon("ko-KR")
        assert lex.intent_of("한번 더") is Intent.REPEAT
        assert lex.intent_of("네") is Intent.YES
        assert lex.intent_of("바나나") is Intent.UNKNOWN

    def test_unknown_language(self) -> None:
        with pytest.raises(LexiconError, match=r"no lexicon for language 'fr-FR'.*speech/lexicons/fr-FR\.yaml"):
            load_lexicon("fr-FR")

    def test_a_directory_overrides_the_shipped_lexicons(self, tmp_path: Path) -> None:
        (tmp_path / "zh-CN.yaml").write_text("language: zh-CN\nintents:\n  yes: [行]\n  no: [不行]\n",
                                             encoding="utf-8")
        lex = load_lexicon("zh-CN", tmp_path)
        assert lex.phrases == {Intent.YES: ("行",), Intent.NO: ("不行",)}

    def test_a_directory_without_the_language(self, tmp_path: Path) -> None:
        with pytest.raises(LexiconError, match="no lexicon for language 'ko-KR'") as caught:
            load_lexicon("ko-KR", tmp_path)
        assert str(tmp_path / "ko-KR.yaml") in str(caught.value)

    def test_errors_in_a_directory_file_name_the_file(self, tmp_path: Path) -> None:
        (tmp_path / "zh-CN.yaml").write_text("language: zh-CN\nintents:\n  yes: [行]\n", encoding="utf-8")
        with pytest.raises(LexiconError, match="intent no has no phrases") as caught:
            load_lexicon("zh-CN", tmp_path)
        assert str(caught.value).startswith(str(tmp_path / "zh-CN.yaml"))


class TestParse:
    def test_unquoted_yes_and_no_keys_are_intents(self) -> None:
        lex = parse_lexicon("language: zh-CN\nintents:\n  yes: [是]\n  no: [不是]\n  human: [人工]\n", "t.yaml")
        assert lex.phrases == {Intent.YES: ("是",), Intent.NO: ("不是",), Intent.HUMAN: ("人工",)}

    def test_quoted_keys_work_too(self) -> None:
        lex = parse_lexicon("language: ko-KR\nintents:\n  'yes': [네]\n  \"no\": [아니요]\n", "t.yaml")
        assert lex.phrases == {Intent.YES: ("네",), Intent.NO: ("아니요",)}

    def test_unknown_intent(self) -> None:
        text = "language: zh-CN\nintents:\n  yes: [是]\n  no: [不是]\n  maybe: [也许]\n"
        with pytest.raises(LexiconError, match=r"^bad\.yaml: unknown intent 'maybe' \(use yes, no, human, repeat\)"):
            parse_lexicon(text, "bad.yaml")

    def test_a_phrase_under_two_intents(self) -> None:
        text = "language: zh-CN\nintents:\n  yes: [是, 对]\n  no: [不是, 对]\n"
        with pytest.raises(LexiconError, match=r"^bad\.yaml: phrase '对' is listed under both yes and no"):
            parse_lexicon(text, "bad.yaml")

    def test_a_phrase_under_two_intents_is_found_despite_spacing(self) -> None:
        text = "language: ko-KR\nintents:\n  yes: [네]\n  no: [아니요]\n  repeat: [한 번 더]\n  human: [한번더]\n"
        with pytest.raises(LexiconError, match="'한번더' is listed under both repeat and human"):
            parse_lexicon(text, "bad.yaml")

    def test_a_phrase_twice_under_one_intent_is_fine(self) -> None:
        lex = parse_lexicon("language: zh-CN\nintents:\n  yes: [是, 是]\n  no: [不是]\n", "t.yaml")
        assert lex.intent_of("是") is Intent.YES

    @pytest.mark.parametrize("missing", ["yes", "no"])
    def test_yes_and_no_are_required(self, missing: str) -> None:
        intents = {"yes": "[是]", "no": "[不是]", "human": "[人工]"}
        del intents[missing]
        text = "language: zh-CN\nintents:\n" + "".join(f"  {k}: {v}\n" for k, v in intents.items())
        with pytest.raises(LexiconError, match=rf"^bad\.yaml: intent {missing} has no phrases$"):
            parse_lexicon(text, "bad.yaml")

    def test_not_yaml(self) -> None:
        with pytest.raises(LexiconError, match=r"^bad\.yaml: not valid YAML"):
            parse_lexicon("language: zh-CN\nintents: [yes: {\n", "bad.yaml")

    @pytest.mark.parametrize("text", ["- just\n- a list\n", "intents:\n  yes: [是]\n  no: [不]\n", ""])
    def test_language_and_intents_are_needed(self, text: str) -> None:
        with pytest.raises(LexiconError, match=r"^bad\.yaml: needs `language:` and `intents:`"):
            parse_lexicon(text, "bad.yaml")

    def test_intents_must_be_a_mapping(self) -> None:
        with pytest.raises(LexiconError, match="`intents:` must map intent"):
            parse_lexicon("language: zh-CN\nintents: [是, 不是]\n", "bad.yaml")

    @pytest.mark.parametrize("outcome", ["silence", "unknown"])
    def test_recogniser_outcomes_are_not_lexicon_intents(self, outcome: str) -> None:
        text = f"language: zh-CN\nintents:\n  yes: [是]\n  no: [不是]\n  {outcome}: [嗯嗯]\n"
        with pytest.raises(LexiconError, match=rf"^bad\.yaml: {outcome} is a recogniser outcome, not a lexicon intent"):
            parse_lexicon(text, "bad.yaml")

    @pytest.mark.parametrize("phrases", ["[]", "是", "null"])
    def test_an_intent_needs_a_non_empty_list(self, phrases: str) -> None:
        text = f"language: zh-CN\nintents:\n  yes: {phrases}\n  no: [不是]\n"
        with pytest.raises(LexiconError, match="intent yes needs a non-empty list of phrases"):
            parse_lexicon(text, "bad.yaml")


class TestBuildGrammar:
    def test_a_phrase_the_model_knows_whole_stays_whole(self) -> None:
        grammar = build_grammar(lexicon(["是的"], ["不是"]), vocab("是的", "不是", "是", "的"))
        assert grammar.spelled == {"是的": Intent.YES, "不是": Intent.NO}
        assert grammar.missing == ()

    def test_a_phrase_is_split_into_known_words(self) -> None:
        lex = lexicon(["是"], ["不"], human=["转人工"])
        grammar = build_grammar(lex, vocab("是", "不", "转", "人工", "人", "工"))
        assert grammar.spelled["转 人工"] is Intent.HUMAN
        assert "转人工" not in grammar.spelled
        assert grammar.missing == ()

    def test_the_split_uses_the_fewest_words(self) -> None:
        lex = lexicon(["是"], ["不"], repeat=["再说一遍"])
        grammar = build_grammar(lex, vocab("是", "不", "再", "说", "一", "遍", "一遍"))
        assert grammar.spelled["再 说 一遍"] is Intent.REPEAT
        assert grammar.phrases() == sorted(["是", "不", "再 说 一遍"])

    def test_an_unspellable_phrase_goes_to_missing(self) -> None:
        lex = lexicon(["是", "收到了"], ["不是"], human=["客服"])
        grammar = build_grammar(lex, vocab("是", "不", "收到", "客"))
        assert grammar.missing == ("收到了", "客服")
        assert grammar.spelled == {"是": Intent.YES, "不 是": Intent.NO}

    def test_spaces_in_a_phrase_separate_words(self) -> None:
        lex = lexicon(["네"], ["아니요"], language="ko-KR", repeat=["한 번 더"])
        grammar = build_grammar(lex, vocab("네", "아니요", "한", "번", "더"))
        assert grammar.spelled["한 번 더"] is Intent.REPEAT

    def test_words_longer_than_the_limit_are_not_tried(self) -> None:
        lex = lexicon(["是"], ["不"], human=["人工服务"])
        known = vocab("是", "不", "人工服", "务")
        assert build_grammar(lex, known, max_word_chars=3).spelled["人工服 务"] is Intent.HUMAN
        assert build_grammar(lex, known, max_word_chars=2).missing == ("人工服务",)

    def test_no_yes_phrase_spelled_points_at_the_model_setting(self) -> None:
        lex = lexicon(["是", "对"], ["不"])
        with pytest.raises(LexiconError, match="speech.vosk_model_path") as caught:
            build_grammar(lex, vocab("不"))
        message = str(caught.value)
        assert message.startswith("zh-CN:")
        assert "yes phrases (是, 对)" in message

    def test_no_no_phrase_spelled_is_an_error_too(self) -> None:
        with pytest.raises(LexiconError, match="none of the no phrases"):
            build_grammar(lexicon(["是"], ["不是"]), vocab("是"))

    def test_the_shipped_zh_cn_lexicon_with_a_character_vocabulary(self) -> None:
        lex = load_lexicon("zh-CN")
        characters = {ch for phrases in lex.phrases.values() for phrase in phrases for ch in phrase} - {"遍"}
        grammar = build_grammar(lex, vocab(*characters))
        characters |= {ch for phrase in lex.non_answers for ch in phrase}
        grammar = build_grammar(lex, vocab(*characters))
        assert set(grammar.missing) == {"再说一遍", "重复一遍"}
        assert grammar.spelled["转 人 工"] is Intent.HUMAN
        assert grammar.spelled["你 是 谁"] is Intent.UNKNOWN
        total = sum(len(p) for p in lex.phrases.values()) + len(lex.non_answers)
        assert len(grammar.spelled) + len(grammar.missing) == total


    def test_the_models_unknown_word_joins_the_grammar(self) -> None:
        lex = lexicon(["是", "是的"], ["不是"])
        grammar = build_grammar(lex, vocab("是", "的", "不", "[unk]"))
        assert "[unk]" in grammar.phrases()
        assert grammar.intent_of_text("[unk]") is Intent.UNKNOWN
        assert grammar.intent_of_text("是 [unk]") is Intent.UNKNOWN  # a yes with unexplained words around it
        assert grammar.intent_of_text("[unk] 不 是") is Intent.UNKNOWN
        assert grammar.intent_of_text("是 的") is Intent.YES

    def test_a_model_without_an_unknown_word_gets_none(self) -> None:
        grammar = build_grammar(lexicon(["是"], ["不是"]), vocab("是", "不"))
        assert "[unk]" not in grammar.phrases()


class TestCheckSyllables:
    """Single syllables that a yes/no of two or more syllables must beat in the check pass."""

    BASE = "language: zh-CN\nintents:\n  yes: [是, 是的]\n  no: [不是, 不清楚]\n"

    def test_the_key_parses(self) -> None:
        lex = parse_lexicon(self.BASE + "check_syllables: [大, 小, 天, 大]\n", "t.yaml")
        assert lex.check_syllables == ("大", "小", "天")
        assert parse_lexicon(self.BASE, "t.yaml").check_syllables == ()

    @pytest.mark.parametrize(("value", "message"), [
        ("大", "`check_syllables:` must be a list of single syllables"),
        ("[大小]", "check_syllables entry '大小' is not one syllable (one character)"),
        ("[7]", "check_syllables entry 7 is not one syllable (one character)"),
        ("[清]", "check_syllables entry '清' is part of the answer '不清楚'"),
    ])
    def test_bad_entries_are_named(self, value: str, message: str) -> None:
        with pytest.raises(LexiconError, match=rf"^bad\.yaml: {re.escape(message)}$"):
            parse_lexicon(self.BASE + f"check_syllables: {value}\n", "bad.yaml")

    def test_the_check_grammar_adds_the_known_syllables(self) -> None:
        lex = Lexicon("zh-CN", {Intent.YES: ("是的",), Intent.NO: ("不是",)}, check_syllables=("大", "小", "龘"))
        grammar = build_grammar(lex, vocab("是", "的", "不", "大", "小"))
        assert grammar.check_words == ("大", "小")  # the model does not know 龘
        assert grammar.check_phrases() == sorted(["是 的", "不 是", "大", "小"])
        assert grammar.phrases() == sorted(["是 的", "不 是"])  # the first pass is unchanged
        assert grammar.intent_of_text("大 小") is Intent.UNKNOWN
        assert grammar.intent_of_text("不 是") is Intent.NO

    def test_text_splits_into_grammar_phrases(self) -> None:
        lex = Lexicon("zh-CN", {Intent.YES: ("是", "是的"), Intent.NO: ("不是",)})
        grammar = build_grammar(lex, vocab("是", "的", "不"))
        assert grammar.split("是 的 是") == ["是 的", "是"]
        assert grammar.split("不 是") == ["不 是"]
        assert grammar.split("的 不") is None


class TestIntentOfText:
    @pytest.fixture
    def grammar(self) -> Grammar:
        lex = lexicon(["是", "是的", "对"], ["不是", "不", "没有"], human=["人工"], repeat=["再说一遍"])
        return build_grammar(lex, vocab("是", "的", "对", "不", "没有", "人工", "再", "说", "一遍"))

    @pytest.mark.parametrize(
        ("text", "intent"),
        [
            ("是 的", Intent.YES),
            ("是", Intent.YES),
            ("是 的 是 的", Intent.YES),
            ("对 是 的", Intent.YES),
            ("不 是", Intent.NO),
            ("没有 没有", Intent.NO),
            ("再 说 一遍", Intent.REPEAT),
            ("人工", Intent.HUMAN),
            ("是 的 不 是", Intent.UNKNOWN),
            ("是 人工", Intent.UNKNOWN),
            ("", Intent.UNKNOWN),
            ("   ", Intent.UNKNOWN),
            ("好", Intent.UNKNOWN),
            ("是 好", Intent.UNKNOWN),
            ("的", Intent.UNKNOWN),
            ("再 说", Intent.REPEAT),  # pieces of 再说一遍: a repeat costs only a re-ask
        ],
    )
    def test_text_to_intent(self, grammar: Grammar, text: str, intent: Intent) -> None:
        assert grammar.intent_of_text(text) is intent

    def test_multi_word_korean_phrase(self) -> None:
        grammar = build_grammar(load_lexicon("ko-KR"),
                                vocab("네", "예", "아니요", "연결", "못", "한", "번", "더"))
        assert grammar.intent_of_text("한 번 더") is Intent.REPEAT
        assert grammar.intent_of_text("한 번 더 네") is Intent.UNKNOWN
        assert grammar.intent_of_text("네 네") is Intent.YES
        assert grammar.intent_of_text("한 번") is Intent.REPEAT  # pieces of 한 번 더

    def test_an_empty_grammar_knows_nothing(self) -> None:
        assert Grammar("zh-CN", {}, ()).intent_of_text("是") is Intent.UNKNOWN


class TestDtmf:
    @pytest.mark.parametrize(
        ("digits", "intent"),
        [("1", Intent.YES), ("2", Intent.NO), ("0", Intent.HUMAN), ("*", Intent.REPEAT), ("1#", Intent.YES),
         (" 2 ", Intent.NO), ("9", Intent.UNKNOWN), ("12", Intent.UNKNOWN), ("", Intent.UNKNOWN),
         ("#", Intent.UNKNOWN), ("**", Intent.UNKNOWN)],
    )
    def test_keys_to_intent(self, digits: str, intent: Intent) -> None:
        assert dtmf_intent(digits) is intent


def test_pieces_of_a_phrase_count_only_for_repeat_and_human() -> None:
    from speech.lexicon import Grammar

    grammar = Grammar("ko-KR", {"한 번 더": Intent.REPEAT, "뭐 라고요": Intent.REPEAT, "네": Intent.YES,
                                "아니 요": Intent.NO, "연결 해 주세요": Intent.HUMAN}, ())
    assert grammar.intent_of_text("한 번 더") is Intent.REPEAT
    assert grammar.intent_of_text("한 더") is Intent.REPEAT  # Vosk dropped a word
    assert grammar.intent_of_text("라고요") is Intent.REPEAT
    assert grammar.intent_of_text("해 주세요") is Intent.HUMAN
    assert grammar.intent_of_text("요") is Intent.UNKNOWN  # a piece of a "no": never a recorded answer
    assert grammar.intent_of_text("한 요") is Intent.UNKNOWN  # pieces of two intents
    assert grammar.intent_of_text("한 모르는") is Intent.UNKNOWN  # a word of no phrase


class TestNonAnswers:
    """Fillers in the grammar that give out-of-grammar speech somewhere to go other than yes or no."""

    BASE = "language: zh-CN\nintents:\n  yes: [是, 对的]\n  no: [不是]\n  repeat: [再说一遍]\n"

    def test_the_key_parses(self) -> None:
        lex = parse_lexicon(self.BASE + "non_answers: [喂, 你是谁, 等一下, 喂]\n", "t.yaml")
        assert lex.non_answers == ("喂", "你是谁", "等一下")  # duplicates dropped, order kept
        assert lex.intent_of("你是谁") is Intent.UNKNOWN

    def test_the_key_is_optional(self) -> None:
        assert parse_lexicon(self.BASE, "t.yaml").non_answers == ()

    @pytest.mark.parametrize("value", ["喂", "{a: b}", "7"])
    def test_it_must_be_a_list(self, value: str) -> None:
        with pytest.raises(LexiconError, match=r"^bad\.yaml: `non_answers:` must be a list of phrases$"):
            parse_lexicon(self.BASE + f"non_answers: {value}\n", "bad.yaml")

    @pytest.mark.parametrize(("entry", "shown"), [("''", "''"), ("[喂]", "['喂']"), ("123", "123"), ("null", "None")])
    def test_a_bad_entry_is_named(self, entry: str, shown: str) -> None:
        with pytest.raises(LexiconError, match=r"^bad\.yaml: non_answers entry (.+) is not a phrase") as caught:
            parse_lexicon(self.BASE + f"non_answers: [喂, {entry}]\n", "bad.yaml")
        assert f"entry {shown} is not" in str(caught.value)

    @pytest.mark.parametrize(("filler", "intent"), [("是", "yes"), ("对 的", "yes"), ("不是", "no"), ("再说 一遍", "repeat")])
    def test_a_filler_that_is_an_answer_is_refused(self, filler: str, intent: str) -> None:
        with pytest.raises(LexiconError, match=rf"^bad\.yaml: phrase '{filler}' is listed under both {intent} and non_answers"):
            parse_lexicon(self.BASE + f"non_answers: [喂, '{filler}']\n", "bad.yaml")

    def test_a_directory_file_error_names_the_file(self, tmp_path: Path) -> None:
        (tmp_path / "zh-CN.yaml").write_text(self.BASE + "non_answers: [是]\n", encoding="utf-8")
        with pytest.raises(LexiconError, match="phrase '是' is listed under both yes and non_answers") as caught:
            load_lexicon("zh-CN", tmp_path)
        assert str(caught.value).startswith(str(tmp_path / "zh-CN.yaml"))

    @pytest.fixture
    def grammar(self) -> Grammar:
        lex = Lexicon("zh-CN", {Intent.YES: ("是", "是的"), Intent.NO: ("不是",), Intent.REPEAT: ("再说一遍",)},
                      non_answers=("你是谁", "喂", "等一下", "说话"))
        return build_grammar(lex, vocab("是", "的", "不", "你", "谁", "喂", "等", "一下", "再", "说", "一遍", "说话"))

    def test_the_grammar_includes_the_fillers(self, grammar: Grammar) -> None:
        assert grammar.phrases() == sorted(["是", "是 的", "不 是", "再 说 一遍", "你 是 谁", "喂", "等 一下", "说话"])
        assert grammar.spelled["你 是 谁"] is Intent.UNKNOWN

    @pytest.mark.parametrize(
        ("text", "intent"),
        [
            ("喂", Intent.UNKNOWN),
            ("你 是 谁", Intent.UNKNOWN),
            ("是 喂", Intent.UNKNOWN),  # a filler mixed with a yes
            ("喂 是 的", Intent.UNKNOWN),
            ("不 是 等 一下", Intent.UNKNOWN),
            ("你 谁", Intent.UNKNOWN),  # pieces of a filler
            ("再 说 等", Intent.UNKNOWN),  # repeat pieces mixed with a filler word
            ("是 的", Intent.YES),
            ("不 是", Intent.NO),
            ("再 说", Intent.REPEAT),
        ],
    )
    def test_filler_text_is_unknown(self, grammar: Grammar, text: str, intent: Intent) -> None:
        assert grammar.intent_of_text(text) is intent

    def test_a_filler_the_model_cannot_spell_is_missing_not_fatal(self) -> None:
        lex = Lexicon("zh-CN", {Intent.YES: ("是",), Intent.NO: ("不是",)}, non_answers=("喂", "哪位"))
        grammar = build_grammar(lex, vocab("是", "不", "喂"))
        assert grammar.missing == ("哪位",)
        assert grammar.spelled["喂"] is Intent.UNKNOWN

    @pytest.mark.parametrize("language", ["zh-CN", "ko-KR"])
    def test_the_shipped_lexicons_have_fillers_and_none_is_held_out(self, language: str) -> None:
        from speech.samples import FRESH, HELD_OUT, UNSEEN

        lex = load_lexicon(language)
        assert len(lex.non_answers) >= 10
        fillers = {"".join(phrase.split()) for phrase in lex.non_answers}
        for unseen in (HELD_OUT[language], FRESH[language], UNSEEN[language]):
            assert not fillers & {"".join(phrase.split()) for phrase in unseen}
            assert len(unseen) >= 8
