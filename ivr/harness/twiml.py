"""Reading TwiML as Twilio does: the verbs we use, with Twilio's defaults. Anything else fails the
simulated call loudly, as Twilio fails a call with 12100 (document parse failure) or 12200 (schema)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field


class TwimlError(ValueError):
    """The app returned TwiML Twilio would refuse; the message names the Twilio error code."""


@dataclass(frozen=True)
class Verb:
    name: str
    attrs: dict[str, str] = field(default_factory=dict)
    text: str = ""
    children: tuple[Verb, ...] = ()

    def attr(self, name: str, default: str = "") -> str:
        return self.attrs.get(name, default)


KNOWN = {"Play", "Say", "Pause", "Gather", "Record", "Redirect", "Dial", "Hangup"}
NESTED = {"Gather": {"Play", "Say", "Pause"}, "Dial": {"Number", "Sip", "Client"}}


def parse(body: str) -> list[Verb]:
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise TwimlError(f"12100: the TwiML is not well-formed XML ({exc})") from None
    if root.tag != "Response":
        raise TwimlError(f"12200: the root element is <{root.tag}>, not <Response>")
    return [_verb(element, KNOWN, "Response") for element in root]


def _verb(element: ET.Element, allowed: set[str], parent: str) -> Verb:
    if element.tag not in allowed:
        raise TwimlError(f"12200: <{element.tag}> is not allowed in <{parent}>")
    children = tuple(_verb(child, NESTED.get(element.tag, set()), element.tag) for child in element)
    text = (element.text or "").strip()
    if element.tag in ("Play", "Redirect", "Number", "Sip", "Client") and not text:
        raise TwimlError(f"12200: <{element.tag}> needs a URL or target")
    return Verb(element.tag, dict(element.attrib), text, children)
