from pathlib import Path

import pytest

from flows.vocab import CaseType
from huifang.config import ConfigError, load_settings
from kit.settings import Settings, SlaRule, VariantRule
from kit.vocab import DayType, ProductType

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_the_example_file_documents_exactly_the_built_in_defaults() -> None:
    assert load_settings(ROOT / "config.example.toml", environ={}) == Settings()


def test_no_file_gives_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings(None, environ={}) == Settings()


def test_a_partial_table_keeps_the_other_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "[cooling_off.default_days]\nparticipating = 20\n[cases.sla]\nletter_case = { days = 10 }\n")
    settings = load_settings(path, environ={})
    assert settings.cooling_off.default_days[ProductType.PARTICIPATING] == 20
    assert settings.cooling_off.default_days[ProductType.HEALTH] == 15
    assert settings.cases.sla[CaseType.LETTER_CASE] == SlaRule(10, DayType.NATURAL)
    assert settings.cases.sla[CaseType.MIS_SELLING_CASE] == SlaRule(15, DayType.WORKING)


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[database]\nurl = "sqlite:///file.db"\n')
    settings = load_settings(
        path,
        environ={
            "HUIFANG_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1/x",
            "HUIFANG__PHONE__DUPLICATE_APPLICANTS_THRESHOLD": "4",
            "HUIFANG__CALLBACK__VARIANT_RULE": "legacy_days_from_issue",
        },
    )
    assert settings.database.url == "postgresql+psycopg://postgres@127.0.0.1/x"
    assert settings.phone.duplicate_applicants_threshold == 4
    assert settings.callback.variant_rule is VariantRule.LEGACY_DAYS_FROM_ISSUE


def test_calendar_years_are_read(tmp_path: Path) -> None:
    path = write(tmp_path, '[calendar.years.2027]\nholidays = ["2027-01-01"]\nworkdays = [2027-01-09]\n')
    table = load_settings(path, environ={}).calendar[2027]
    assert [d.isoformat() for d in table.holidays] == ["2027-01-01"]
    assert [d.isoformat() for d in table.workdays] == ["2027-01-09"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[cooling_off.default_days]\nhealth = 10\n", r"cooling_off\.default_days\.health: 10 is below .* 15"),
        ("[cooling_off]\ncount_signing_day = \"yes\"\n", r"cooling_off\.count_signing_day: expected true or false"),
        ("[phone]\nduplicate_applicants_threshold = 1\n", r"phone\.duplicate_applicants_threshold: must be at least 2"),
        ("[callback]\nvariant_rule = \"eighteen\"\n", r"callback\.variant_rule: 'eighteen' is not one of"),
        ("[callback]\nfirst_dial_delay = 1\n", r"unknown config key callback\.first_dial_delay"),
        ("[cases.sla]\nletter_case = { day_type = \"working\" }\n", r"cases\.sla\.letter_case: missing key days"),
        ("[cases.sla]\nno_such_case = { days = 3 }\n", r"cases\.sla\.no_such_case: not a case type"),
        ("[cases]\nwarning_elapsed_fraction = 1.5\n", r"cases\.warning_elapsed_fraction: must be in"),
        ("[calendar.years.2027]\nholidays = [\"2028-01-01\"]\n", r"calendar\.years\.2027\.holidays\[0\]: 2028-01-01 is not in 2027"),
        ("[calendar.years.next]\n", r"calendar\.years\.next: the key must be a year"),
        ("[ivr]\nfallback_base_url = \"ivr2.example.com\"\n", r"ivr\.fallback_base_url: must be empty .* http\(s\)"),
        ("[recordings]\nretention_years_long_term = 3\n",
         r"recordings\.retention_years_long_term: the regulatory minimum is 10 years .* got 3"),
        ("[recordings]\nretention_years_after_dispute = 1\n", r"recordings\.retention_years_after_dispute: .* minimum is 2"),
        ("[ivr]\ncapture = \"websocket\"\n", r"ivr\.capture: 'websocket' is not one of record, stream"),
        ("[ivr]\nstream_end_silence_ms = 50\n", r"ivr\.stream_end_silence_ms: must be at least 100 .* got 50"),
        ("[ivr]\nstream_max_lag_ms = 0\n", r"ivr\.stream_max_lag_ms: must be at least 1, got 0"),
        ("[recordings]\ndownload_threads = -1\n", r"recordings\.download_threads: must be 0 .* got -1"),
        ("[database\n", r"not valid TOML"),
    ],
)
def test_bad_values_fail_fast_naming_the_key(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, body), environ={})


def test_a_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_ecallback_and_sms_numbers_are_checked() -> None:
    import dataclasses

    from huifang.config import validate
    from kit.settings import EcallbackSettings, SmsSettings

    with pytest.raises(ConfigError, match="ecallback.max_wrong_codes"):
        validate(dataclasses.replace(Settings(), ecallback=EcallbackSettings(max_wrong_codes=0)))
    with pytest.raises(ConfigError, match="sms.provider"):
        validate(dataclasses.replace(Settings(), sms=SmsSettings(provider="carrier-pigeon")))
