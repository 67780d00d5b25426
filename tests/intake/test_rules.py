from datetime import date

import pytest

from intake import rules
from kit.calendar import BusinessCalendar
from kit.settings import CallbackSettings, CoolingOffSettings, DualRecordingSettings, VariantRule
from kit.vocab import Channel, ExclusionReason, ProductType, QuestionnaireVariant

CAL = BusinessCalendar()


class TestEligibility:  # docs/domain.md §14 rules 1–3
    @pytest.mark.parametrize("term", [2, 10, None])
    def test_individual_business_over_one_year_needs_a_callback(self, term: int | None) -> None:
        decision = rules.callback_decision(is_group=False, term_years=term, product_type=ProductType.TRADITIONAL,
                                           guaranteed_renewal=False)
        assert decision == rules.CallbackDecision(True, None)

    def test_exactly_one_year_needs_none(self) -> None:
        decision = rules.callback_decision(is_group=False, term_years=1, product_type=ProductType.TRADITIONAL,
                                           guaranteed_renewal=True)
        assert decision == rules.CallbackDecision(False, ExclusionReason.TERM_ONE_YEAR_OR_LESS)

    def test_one_year_health_with_guaranteed_renewal_is_long_term_health(self) -> None:
        assert rules.callback_decision(is_group=False, term_years=1, product_type=ProductType.HEALTH,
                                       guaranteed_renewal=True).required

    def test_one_year_health_without_renewal_needs_none(self) -> None:
        assert not rules.callback_decision(is_group=False, term_years=1, product_type=ProductType.HEALTH,
                                           guaranteed_renewal=False).required

    def test_group_business_never(self) -> None:
        decision = rules.callback_decision(is_group=True, term_years=20, product_type=ProductType.HEALTH,
                                           guaranteed_renewal=True)
        assert decision == rules.CallbackDecision(False, ExclusionReason.GROUP_BUSINESS)


class TestCoolingOffEnd:  # rule 6, Civil Code Art. 201/203
    def test_signing_day_not_counted(self) -> None:
        # signed Mon 2026-11-16 + 15 days = Tue 2026-12-01
        assert rules.cooling_off_end(date(2026, 11, 16), 15, CoolingOffSettings(), CAL) == date(2026, 12, 1)

    def test_last_day_on_a_sunday_moves_to_monday(self) -> None:
        assert rules.cooling_off_end(date(2026, 11, 7), 15, CoolingOffSettings(), CAL) == date(2026, 11, 23)

    def test_last_day_in_golden_week_moves_past_it(self) -> None:
        assert rules.cooling_off_end(date(2026, 9, 18), 15, CoolingOffSettings(), CAL) == date(2026, 10, 8)

    def test_inclusive_counting_option(self) -> None:
        settings = CoolingOffSettings(count_signing_day=True)
        assert rules.cooling_off_end(date(2026, 11, 16), 15, settings, CAL) == date(2026, 11, 30)

    def test_no_extension_option(self) -> None:
        settings = CoolingOffSettings(extend_past_days_off=False)
        assert rules.cooling_off_end(date(2026, 11, 7), 15, settings, CAL) == date(2026, 11, 22)


class TestVariant:  # rule 9
    def test_a_inside_the_cooling_off_period_b_after(self) -> None:
        s = CallbackSettings()
        end = date(2026, 12, 1)
        assert rules.questionnaire_variant(callback_date=end, cooling_off_end=end, issue_date=date(2026, 11, 1),
                                           settings=s) is QuestionnaireVariant.A
        assert rules.questionnaire_variant(callback_date=date(2026, 12, 2), cooling_off_end=end,
                                           issue_date=date(2026, 11, 1), settings=s) is QuestionnaireVariant.B

    def test_legacy_eighteen_days_from_issue(self) -> None:
        s = CallbackSettings(variant_rule=VariantRule.LEGACY_DAYS_FROM_ISSUE, legacy_variant_days=18)
        issue = date(2026, 11, 1)
        far_end = date(2026, 12, 31)
        assert rules.questionnaire_variant(callback_date=date(2026, 11, 19), cooling_off_end=far_end,
                                           issue_date=issue, settings=s) is QuestionnaireVariant.A
        assert rules.questionnaire_variant(callback_date=date(2026, 11, 20), cooling_off_end=far_end,
                                           issue_date=issue, settings=s) is QuestionnaireVariant.B

    def test_planned_date_is_the_day_after_logging_but_never_in_the_past(self) -> None:
        s = CallbackSettings()
        assert rules.planned_callback_date(date(2026, 11, 20), date(2026, 11, 19), s) == date(2026, 11, 21)
        assert rules.planned_callback_date(date(2026, 11, 10), date(2026, 11, 25), s) == date(2026, 11, 25)


class TestDualRecordingScope:  # rule 13, 可回溯 Art.6
    def scope(self, channel: Channel, product: ProductType = ProductType.TRADITIONAL, term: int | None = 20,
              birth: date = date(1980, 1, 1)) -> bool:
        return rules.in_dual_recording_scope(channel=channel, product_type=product, term_years=term,
                                             applicant_birth_date=birth, issue_date=date(2026, 11, 1),
                                             settings=DualRecordingSettings())

    def test_bank_channel_over_one_year(self) -> None:
        assert self.scope(Channel.BANCASSURANCE)
        assert not self.scope(Channel.BANCASSURANCE, term=1)

    def test_agency_only_for_applicants_sixty_or_over_at_issue(self) -> None:
        assert not self.scope(Channel.AGENCY)
        assert self.scope(Channel.AGENCY, birth=date(1966, 11, 1))  # 60 on the issue date
        assert not self.scope(Channel.AGENCY, birth=date(1966, 11, 2))  # one day short

    def test_investment_linked_always(self) -> None:
        assert self.scope(Channel.INTERNET, product=ProductType.INVESTMENT_LINKED, term=1)
