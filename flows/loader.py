"""Load flow and module files into Flow objects, collecting every structural error with file and line.

A directory holds YAML files; each is either a module (`module: NAME`, a list of steps) or a flow
(`flow: ID`, its version, applicability and the modules it is built from, in order). See flows/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flows.messages import REQUIRED_MESSAGES, Messages
from flows.model import STEP_END_REASONS, AppliesTo, EndReason, Flow, OnNo, Step, StepKind
from flows.vocab import Topic
from flows.yamlsource import LineDict, YamlSyntaxError, line_of, load_yaml

STEP_KEYS = {"id", "say", "ask", "verify_birthday", "topic", "on_no", "explain", "when"}
FLOW_KEYS = {"flow", "version", "language", "title", "applies_to", "modules", "description"}
MODULE_KEYS = {"module", "description", "steps"}
MESSAGE_FILE_KEYS = {"messages", "language", "description"}
APPLIES_KEYS = {"product_types", "channels", "variants", "min_age", "max_age", "dual_recorded"}


@dataclass(frozen=True)
class FlowError:
    file: str
    line: int
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "message": self.message}


@dataclass
class Module:
    name: str
    steps: list[Step]
    file: str
    broken: bool = False


@dataclass
class FlowSpec:
    id: str
    version: int
    language: str
    title: str
    applies_to: AppliesTo
    modules: list[tuple[str, int]]  # module name and the line that names it
    file: str
    line: int


@dataclass
class Sources:
    modules: dict[str, Module] = field(default_factory=dict)
    flows: list[FlowSpec] = field(default_factory=list)
    messages: dict[str, Messages] = field(default_factory=dict)
    broken_languages: set[str] = field(default_factory=set)
    errors: list[FlowError] = field(default_factory=list)


class _File:
    def __init__(self, path: Path, root: Path, errors: list[FlowError]) -> None:
        self.name = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
        self.errors = errors
        self.failed = False

    def error(self, line: int, message: str) -> None:
        self.failed = True
        self.errors.append(FlowError(self.name, line, message))

    def unknown_keys(self, data: LineDict, allowed: set[str], what: str) -> None:
        for key in data:
            if key not in allowed:
                self.error(line_of(data, key), f"unknown key {key!r} in {what}")


def read_sources(path: Path) -> Sources:
    sources = Sources()
    root = path if path.is_dir() else path.parent
    files = sorted(path.rglob("*.yaml")) + sorted(path.rglob("*.yml")) if path.is_dir() else [path]
    if not files:
        sources.errors.append(FlowError(str(path), 0, "no flow files (*.yaml) found"))
    for file_path in files:
        f = _File(file_path, root, sources.errors)
        try:
            data = load_yaml(file_path)
        except YamlSyntaxError as exc:
            f.error(exc.line, str(exc))
            continue
        if not isinstance(data, LineDict):
            f.error(1, "a flow file is a mapping with `flow:` or `module:` at the top")
        elif "module" in data:
            module = _read_module(data, f)
            if module is not None:
                if module.name in sources.modules:
                    f.error(line_of(data, "module"), f"module {module.name!r} is also defined in "
                            f"{sources.modules[module.name].file}")
                sources.modules[module.name] = module
        elif "messages" in data:
            messages = _read_messages(data, f)
            if messages is not None:
                sources.messages[messages.language] = messages
                if f.failed:
                    sources.broken_languages.add(messages.language)
        elif "flow" in data:
            spec = _read_flow(data, f)
            if spec is not None:
                sources.flows.append(spec)
        else:
            f.error(line_of(data), "a flow file needs `flow:`, `module:` or `messages:` at the top")
    return sources


def _read_messages(data: LineDict, f: _File) -> Messages | None:
    from flows.facts import PLACEHOLDERS, PUBLIC_PLACEHOLDERS
    from flows.validate import placeholders_in

    f.unknown_keys(data, MESSAGE_FILE_KEYS, "a messages file")
    texts = data.get("messages")
    if not isinstance(texts, LineDict):
        f.error(line_of(data, "messages"), "messages is a mapping of message names to text")
        return None
    for name in REQUIRED_MESSAGES:
        if not isinstance(texts.get(name), str) or not texts[name].strip():
            f.error(line_of(data, "messages"), f"missing message {name!r}")
    for name, text in texts.items():
        if name not in REQUIRED_MESSAGES:
            f.error(line_of(texts, name), f"unknown message {name!r}")
            continue
        try:
            names = placeholders_in(str(text))
        except ValueError as exc:
            f.error(line_of(texts, name), f"message {name!r}: {exc}")
            continue
        for placeholder in names:
            if placeholder not in PLACEHOLDERS:
                f.error(line_of(texts, name), f"message {name!r}: unknown placeholder {{{placeholder}}}")
            elif placeholder not in PUBLIC_PLACEHOLDERS:
                f.error(line_of(texts, name), f"message {name!r}: {{{placeholder}}} may be heard before the "
                        "identity check; messages may use only public placeholders")
    return Messages(str(data.get("language", "zh-CN")), {k: str(v).strip() for k, v in texts.items()})


def _read_module(data: LineDict, f: _File) -> Module | None:
    f.unknown_keys(data, MODULE_KEYS, "a module")
    name = data.get("module")
    if not isinstance(name, str) or not name:
        f.error(line_of(data, "module"), "module needs a name")
        return None
    steps_data = data.get("steps")
    if not isinstance(steps_data, list) or not steps_data:
        f.error(line_of(data, "steps") or line_of(data), f"module {name!r} has no steps")
        return Module(name, [], f.name, broken=True)
    steps = [s for s in (_read_step(item, name, f) for item in steps_data) if s is not None]
    return Module(name, steps, f.name, broken=f.failed)


def _read_step(data: Any, module: str, f: _File) -> Step | None:
    if not isinstance(data, LineDict):
        f.error(line_of(data), "a step is a mapping")
        return None
    f.unknown_keys(data, STEP_KEYS, "a step")
    line = line_of(data)
    step_id = data.get("id")
    if not isinstance(step_id, str) or not step_id:
        f.error(line, "step needs an id")
        return None
    kinds = [k for k in StepKind if k.value in data]
    if len(kinds) != 1:
        f.error(line, f"step {step_id!r}: give exactly one prompt: say, ask or verify_birthday")
        return None
    kind = kinds[0]
    text = data[kind.value]
    if not isinstance(text, str) or not text.strip():
        f.error(line_of(data, kind.value), f"step {step_id!r}: missing prompt text")
        return None
    topic = None
    if "topic" in data:
        try:
            topic = Topic(data["topic"])
        except ValueError:
            f.error(line_of(data, "topic"), f"step {step_id!r}: unknown topic {data['topic']!r}")
            return None
    elif kind is not StepKind.SAY:
        f.error(line, f"step {step_id!r}: a question needs a topic")
        return None
    if kind is StepKind.VERIFY_BIRTHDAY and topic is not Topic.IDENTITY:
        f.error(line_of(data, "topic"), f"step {step_id!r}: verify_birthday is the identity topic")
    on_no, end_reason = OnNo.EXPLAIN if kind is StepKind.ASK else OnNo.RECORD, None
    raw_on_no = data.get("on_no")
    if isinstance(raw_on_no, LineDict) and set(raw_on_no) == {"end"}:
        on_no = OnNo.END
        try:
            end_reason = EndReason(raw_on_no["end"])
        except ValueError:
            end_reason = None
        if end_reason not in STEP_END_REASONS:
            allowed = ", ".join(sorted(STEP_END_REASONS))
            f.error(line_of(data, "on_no"), f"step {step_id!r}: on_no end reason must be one of {allowed}")
    elif raw_on_no is not None:
        try:
            on_no = OnNo(raw_on_no)
        except ValueError:
            f.error(line_of(data, "on_no"), f"step {step_id!r}: on_no is explain, record or {{end: REASON}}")
        if on_no is OnNo.END:
            f.error(line_of(data, "on_no"), f"step {step_id!r}: write on_no as {{end: REASON}}")
    explain = data.get("explain")
    if kind is StepKind.ASK and on_no is OnNo.EXPLAIN and not (isinstance(explain, str) and explain.strip()):
        f.error(line, f"step {step_id!r}: on_no is explain but the step has no explanation")
    if explain is not None and on_no is not OnNo.EXPLAIN:
        f.error(line_of(data, "explain"), f"step {step_id!r}: the explanation is never played (on_no is not explain)")
    when = data.get("when", {})
    if not isinstance(when, dict):
        f.error(line_of(data, "when"), f"step {step_id!r}: when is a mapping of facts to values")
        when = {}
    return Step(id=step_id, kind=kind, text=text.strip(), topic=topic, on_no=on_no, end_reason=end_reason,
                explain=explain.strip() if isinstance(explain, str) else None, when=dict(when), module=module,
                file=f.name, line=line, text_line=line_of(data, kind.value), explain_line=line_of(data, "explain"))


def _read_flow(data: LineDict, f: _File) -> FlowSpec | None:
    f.unknown_keys(data, FLOW_KEYS, "a flow")
    flow_id = data.get("flow")
    if not isinstance(flow_id, str) or not flow_id:
        f.error(line_of(data, "flow"), "flow needs an id")
        return None
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        f.error(line_of(data, "version") or line_of(data), f"flow {flow_id!r}: version must be a whole number >= 1")
        version = 0
    language = data.get("language", "zh-CN")
    applies = data.get("applies_to", LineDict())
    applies_to = AppliesTo()
    if isinstance(applies, LineDict):
        f.unknown_keys(applies, APPLIES_KEYS, "applies_to")
        applies_to = AppliesTo(
            product_types=tuple(applies.get("product_types", ())),
            channels=tuple(applies.get("channels", ())),
            variants=tuple(applies.get("variants", ())),
            min_age=applies.get("min_age"),
            max_age=applies.get("max_age"),
            dual_recorded=applies.get("dual_recorded"),
        )
    else:
        f.error(line_of(data, "applies_to"), f"flow {flow_id!r}: applies_to is a mapping")
    modules = data.get("modules")
    if not isinstance(modules, list) or not modules:
        f.error(line_of(data, "modules") or line_of(data), f"flow {flow_id!r} lists no modules")
        modules = []
    lines = getattr(modules, "item_lines", [line_of(data, "modules")] * len(modules))
    return FlowSpec(flow_id, version, str(language), str(data.get("title", flow_id)), applies_to,
                    [(str(m), lines[i]) for i, m in enumerate(modules)], f.name, line_of(data, "flow"))


def assemble(spec: FlowSpec, modules: dict[str, Module]) -> Flow:
    steps = [step for name, _line in spec.modules if name in modules for step in modules[name].steps]
    return Flow(id=spec.id, version=spec.version, language=spec.language, title=spec.title,
                applies_to=spec.applies_to, steps=tuple(steps), file=spec.file)
