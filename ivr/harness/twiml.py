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


KNOWN = {"Play", "Say", "Pause", "Gather", "Record", "Redirect", "Dial", "Hangup", "Start"}
NESTED = {"Gather": {"Play", "Say", "Pause"}, "Dial": {"Number", "Sip", "Client"}, "Start": {"Stream"},
          "Stream": {"Parameter"}}
TRACKS = ("inbound_track", "outbound_track", "both_tracks")


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
    _check_stream(element, children)
    return Verb(element.tag, dict(element.attrib), text, children)


def _check_stream(element: ET.Element, children: tuple[Verb, ...]) -> None:
    """<Start><Stream url track><Parameter name value/></Stream></Start> as Twilio takes it: a Stream needs its
    (wss) url, without a query string (Twilio strips it); a Parameter needs a name and a value."""
    if element.tag == "Start" and not children:
        raise TwimlError("12200: <Start> needs a <Stream>")
    if element.tag == "Stream":
        url = element.get("url", "")
        if not url:
            raise TwimlError("12200: <Stream> needs a url")
        if not url.startswith(("wss://", "ws://", "/")):
            raise TwimlError(f"12200: <Stream url> must be a WebSocket URL, not {url!r}")
        if "?" in url:
            raise TwimlError(f"12200: <Stream url> {url!r} has a query string (Twilio strips it: use <Parameter>)")
        if element.get("track", "inbound_track") not in TRACKS:
            raise TwimlError(f"12200: <Stream track> {element.get('track')!r} is not one of {', '.join(TRACKS)}")
    if element.tag == "Parameter" and (not element.get("name") or element.get("value") is None):
        raise TwimlError("12200: <Parameter> needs a name and a value")
