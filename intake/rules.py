"""Pure intake rules (docs/domain.md §2, §3, §8.4, §8.5, §14 rules 1–9). No database, no clock of their own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from kit.calendar import BusinessCalendar, age_on
from kit.settings import CallbackSettings, CoolingOffSettings, DualRecordingSettings, VariantRule
from kit.vocab import Channel, ExclusionReason, ProductType, QuestionnaireVariant


@dataclass(frozen=True)
class CallbackDecision:
    required: bool
    exclusion_reason: ExclusionReason | None = None


def term_over_one_year(term_years: int | None) -> bool:
    """Strictly more than one year ("一年以上(不含一年)"); whole life (None) counts."""
    return term_years is None or term_years > 1


def callback_decision(
    *, is_group: bool, term_years: int | None, product_type: ProductType, guaranteed_renewal: bool
) -> CallbackDecision:
    """Rules 1–3: individual business over one year, or long-term health by guaranteed renewal; never group."""
    if is_group:
        return CallbackDecision(False, ExclusionReason.GROUP_BUSINESS)
    if term_over_one_year(term_years):
        return CallbackDecision(True)
    if product_type is ProductType.HEALTH and guaranteed_renewal:
        return CallbackDecision(True)
    return CallbackDecision(False, ExclusionReason.TERM_ONE_YEAR_OR_LESS)


def cooling_off_end(signed: date, days: int, settings: CoolingOffSettings, calendar: BusinessCalendar) -> date:
    """Rule 6: the last day of the cooling-off period.

    Civil Code Art. 201: the signing day is not counted, so N days end on signed + N (configurable to count
    it: signed + N - 1). Art. 203: a last day that is a day off moves to the next working day (configurable).
    """
    end = signed + timedelta(days=days - 1 if settings.count_signing_day else days)
    if settings.extend_past_days_off:
        end = calendar.next_workday_on_or_after(end)
    return end


def planned_callback_date(opens_on: date, today: date, settings: CallbackSettings) -> date:
    """First dial: the day after the receipt is logged (configurable), never before today."""
    return max(opens_on + timedelta(days=settings.first_dial_delay_days), today)


def questionnaire_variant(
    *, callback_date: date, cooling_off_end: date, issue_date: date, settings: CallbackSettings
) -> QuestionnaireVariant:
    """Rule 9: A inside the cooling-off period, B after it; legacy mode counts natural days from issue."""
    if settings.variant_rule is VariantRule.LEGACY_DAYS_FROM_ISSUE:
        inside = (callback_date - issue_date).days <= settings.legacy_variant_days
    else:
        inside = callback_date <= cooling_off_end
    return QuestionnaireVariant.A if inside else QuestionnaireVariant.B


def in_dual_recording_scope(
    *,
    channel: Channel,
    product_type: ProductType,
    term_years: int | None,
    applicant_birth_date: date,
    issue_date: date,
    settings: DualRecordingSettings,
) -> bool:
    """Rule 13 (可回溯 Art.6): over-one-year business via ancillary agencies (banks); elsewhere over-one-year
    business with an applicant aged 60+ at issue, or any investment-linked policy."""
    if product_type is ProductType.INVESTMENT_LINKED:
        return True
    if not term_over_one_year(term_years):
        return False
    if channel.value in settings.ancillary_channels:
        return True
    return age_on(applicant_birth_date, issue_date) >= settings.elderly_age
