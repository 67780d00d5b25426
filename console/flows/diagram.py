"""A flow as a diagram a product manager can read: SVG drawn on the server from the flow definition.

A small layered layout of our own (no library, no script): one layer per step, top to bottom in the order the
robot plays them; the step itself in the first column, what a "no" leads to beside it (the explanation, the
question asked again, the hand-off to a person, or the end of the call with its reason). A "yes" goes down to
the next step; a side branch that goes on rejoins the next step from the right. Each box is a <g> with
`data-node` (`step`, `explain`, `reask`, `handoff`, `end`, `note`) and `data-step` (the step's id), and its
words are <text> elements (one <tspan> per wrapped line), so a test can read every step back from the SVG.
Placeholders show as words (〔保险期间〕): the diagram is the template, not one customer's call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from console.flows.samples import condition_zh, template_zh
from console.labels import END_REASON_ZH, TOPIC_ZH
from flows.messages import Messages
from flows.model import Flow, OnNo, Step, StepKind

FONT = 14  # px, the body text
SMALL = 12
LINE = 20  # px per line of body text
PAD = 12
COLUMNS = (360, 290, 180, 230)  # main step · explanation or end · asked again · hand-off
COLUMN_GAP = 44
LAYER_GAP = 58
MARGIN = 24
KIND_ZH = {StepKind.SAY: "播报", StepKind.ASK: "提问", StepKind.VERIFY_BIRTHDAY: "身份核实"}
STYLE = {  # fill, stroke
    "start": ("#e8f5e9", "#2e7d32"), "say": ("#f5f5f5", "#757575"), "ask": ("#e3f2fd", "#1565c0"),
    "verify_birthday": ("#ede7f6", "#5e35b1"), "explain": ("#fff8e1", "#f9a825"), "reask": ("#fff3e0", "#ef6c00"),
    "handoff": ("#fbe9e7", "#d84315"), "end": ("#ffebee", "#c62828"), "completed": ("#e8f5e9", "#2e7d32"),
    "note": ("#fafafa", "#9e9e9e"),
}


RULES_ZH = ("说“人工”或按0：转人工（身份核实后）；说“重复”或按*：再听一遍；听不清或无应答：再问，两次后改用按键，"
            "按键仍无法识别：结束（语言沟通不畅）；中途挂断：结束（中途挂断）；身份核实后按9：改用短信链接完成回访")


NO_LINE_START = "，。？！、；：）》」』”’,.?!;:)"  # punctuation stays at the end of the line before


def text_width(text: str, size: int = FONT) -> float:
    """Roughly how wide `text` is drawn: a Chinese character (or full-width sign) a whole em, Latin about half."""
    return sum(size * (0.55 if ord(ch) < 0x2E80 else 1.0) for ch in text)


def wrap(text: str, width: float, size: int = FONT) -> list[str]:
    """Lines no wider than `width` px; a line break in the text is kept."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for ch in paragraph:
            if line and text_width(line + ch, size) > width and ch not in NO_LINE_START:
                lines.append(line)
                line = ""
            line += ch
        lines.append(line)
    return lines


@dataclass
class Node:
    key: str
    kind: str  # a STYLE key
    column: int
    title: str  # the small first line (what the box is)
    body: str  # the words, wrapped
    step: str = ""
    ident: str = ""  # the step's id, drawn in monospace beside the title
    tag: str = ""  # a condition (仅当 …)
    prompt: str = ""  # the prompt list's anchor the box plays (flows.js)
    layer: int = 0
    x: float = 0
    y: float = 0
    lines: list[str] = field(default_factory=list)
    tag_lines: list[str] = field(default_factory=list)

    @property
    def width(self) -> int:
        return COLUMNS[self.column]

    @property
    def height(self) -> float:
        return PAD * 2 + 18 + LINE * len(self.lines) + (LINE * len(self.tag_lines) + 4 if self.tag_lines else 0)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""
    rejoin: bool = False  # from a side box back to the next step (down, then left along the gap)


@dataclass
class Layout:
    nodes: list[Node]
    edges: list[Edge]

    def node(self, key: str) -> Node:
        return next(n for n in self.nodes if n.key == key)


def _end_text(messages: Messages, reason: str) -> str:
    name = f"end_{reason}"
    return template_zh(messages.texts[name]) if name in messages.texts else ""


def _step_node(step: Step, layer: int, words: Mapping[str, Mapping[str, str]]) -> Node:
    kind = step.kind.value
    topic = f"（{TOPIC_ZH.get(step.topic.value, step.topic.value)}）" if step.topic is not None else ""
    return Node(f"step:{step.id}", kind, 0, f"{KIND_ZH[step.kind]}{topic}", template_zh(step.text), step=step.id,
                ident=step.id, tag=_condition(step, words), prompt=f"prompt-{step.id}", layer=layer)


def _condition(step: Step, words: Mapping[str, Mapping[str, str]]) -> str:
    condition = condition_zh(step.when, words)
    return f"{condition}（否则跳过此步）" if condition else ""


def build(flow: Flow, messages: Messages, words: Mapping[str, Mapping[str, str]] | None = None) -> Layout:
    """The boxes and arrows of `flow`, placed in layers and columns (not yet in pixels)."""
    words = words or {}
    nodes = [Node("start", "start", 0, "开始", "电话接通，全程录音"),
             Node("rules", "note", 1, "每一题都适用", RULES_ZH)]
    edges: list[Edge] = []
    previous = "start"
    for layer, step in enumerate(flow.steps, start=1):
        node = _step_node(step, layer, words)
        nodes.append(node)
        edges.append(Edge(previous, node.key, _yes_label(flow.steps[layer - 2]) if layer > 1 else ""))
        previous = node.key
        nodes.extend(_side(step, layer, messages, edges, flow, layer))
    end = Node("end:completed", "completed", 0, "结束：" + END_REASON_ZH["completed"], "问卷全部完成，感谢接听",
               layer=len(flow.steps) + 1)
    nodes.append(end)
    edges.append(Edge(previous, end.key, _yes_label(flow.steps[-1]) if flow.steps else ""))
    return Layout(nodes, edges)


def _yes_label(step: Step) -> str:
    if step.kind is StepKind.SAY:
        return ""
    if step.kind is StepKind.VERIFY_BIRTHDAY:
        return "输入正确"
    return "是" if step.on_no is not OnNo.RECORD else "是 / 否（记录后继续）"


def _next_key(flow: Flow, index: int) -> str:
    return f"step:{flow.steps[index].id}" if index < len(flow.steps) else "end:completed"


def _side(step: Step, layer: int, messages: Messages, edges: list[Edge], flow: Flow, index: int) -> list[Node]:
    """The boxes beside a step: where its "no" (or a wrong birthday) leads."""
    key, after = f"step:{step.id}", _next_key(flow, index)
    if step.kind is StepKind.VERIFY_BIRTHDAY:
        end = Node(f"end:{step.id}", "end", 1, "结束：" + END_REASON_ZH["identity_failed"],
                   _end_text(messages, "identity_failed"), step=step.id, layer=layer)
        edges.append(Edge(key, end.key, "输错两次"))
        return [end]
    if step.kind is not StepKind.ASK or step.on_no is OnNo.RECORD:
        return []
    if step.on_no is OnNo.END:
        reason = step.end_reason.value if step.end_reason is not None else ""
        end = Node(f"end:{step.id}", "end", 1, "结束：" + END_REASON_ZH.get(reason, reason), _end_text(messages, reason),
                   step=step.id, layer=layer)
        edges.append(Edge(key, end.key, "否"))
        return [end]
    explain = Node(f"explain:{step.id}", "explain", 1, "解释", template_zh(step.explain or ""), step=step.id,
                   prompt=f"explain-{step.id}", layer=layer)
    reask = Node(f"reask:{step.id}", "reask", 2, "再次确认", template_zh(messages.texts.get("reask", "")),
                 step=step.id, layer=layer)
    handoff = Node(f"handoff:{step.id}", "handoff", 3, "转人工（解释后仍不清楚）",
                   "坐席接通：由人工解释，通话结束（转人工）；坐席未接通：记录问题，继续下一题", step=step.id, layer=layer)
    edges.extend([Edge(key, explain.key, "否"), Edge(explain.key, reask.key), Edge(reask.key, handoff.key, "否"),
                  Edge(reask.key, after, "是（解释后确认）", rejoin=True),
                  Edge(handoff.key, after, "坐席未接通", rejoin=True)])
    return [explain, reask, handoff]


def place(layout: Layout) -> tuple[float, float]:
    """Pixels: each layer as tall as its tallest box; returns the drawing's width and height."""
    for node in layout.nodes:
        node.lines = wrap(node.body, node.width - 2 * PAD)
        node.tag_lines = wrap(node.tag, node.width - 2 * PAD, SMALL) if node.tag else []
    xs = [float(MARGIN)]
    for width in COLUMNS[:-1]:
        xs.append(xs[-1] + width + COLUMN_GAP)
    layers = max(n.layer for n in layout.nodes) + 1
    heights = [max((n.height for n in layout.nodes if n.layer == i), default=0.0) for i in range(layers)]
    top = float(MARGIN)
    for i in range(layers):
        for node in layout.nodes:
            if node.layer == i:
                node.x, node.y = xs[node.column], top
        top += heights[i] + LAYER_GAP
    return xs[-1] + COLUMNS[-1] + MARGIN, top - LAYER_GAP + MARGIN


def render(flow: Flow, messages: Messages, words: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """The flow's diagram as an <svg> element (for a page: no XML declaration)."""
    layout = build(flow, messages, words)
    width, height = place(layout)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="flow-diagram" viewBox="0 0 {width:.0f} {height:.0f}" '
           f'width="{width:.0f}" height="{height:.0f}" role="img" aria-label="{escape(flow.title)} 流程图" '
           f'font-family="Noto Sans CJK SC, WenQuanYi Micro Hei, Microsoft YaHei, sans-serif" font-size="{FONT}">',
           f"<title>{escape(flow.title)}（{escape(flow.id)} 第 {flow.version} 版）</title>",
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
           'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#546e7a"/></marker></defs>']
    out += [_edge(layout, edge) for edge in layout.edges]
    out += [_node(node) for node in layout.nodes]
    out.append("</svg>")
    return "\n".join(out)


def _node(node: Node) -> str:
    fill, stroke = STYLE[node.kind]
    radius = 18 if node.kind in ("start", "end", "completed") else 6
    attrs = f'data-node="{node.kind if node.kind not in ("say", "ask", "verify_birthday") else "step"}"'
    if node.step:
        attrs += f' data-step="{escape(node.step)}"'
    if node.prompt:
        attrs += f' data-prompt="{escape(node.prompt)}" class="playable"'
    parts = [f"<g {attrs}>",
             f'<rect x="{node.x:.0f}" y="{node.y:.0f}" width="{node.width}" height="{node.height:.0f}" rx="{radius}" '
             f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>']
    title_y = node.y + PAD + 13
    parts.append(f'<text data-part="title" x="{node.x + PAD:.0f}" y="{title_y:.0f}" font-size="{SMALL}" '
                 f'font-weight="bold" fill="{stroke}">{escape(node.title)}</text>')
    if node.ident:
        parts.append(f'<text data-part="id" x="{node.x + node.width - PAD:.0f}" y="{title_y:.0f}" text-anchor="end" '
                     f'font-size="{SMALL}" font-family="monospace" fill="#607d8b">{escape(node.ident)}'
                     f'{" ▶" if node.prompt else ""}</text>')
    parts.append(_lines(node.lines, node.x + PAD, node.y + PAD + 18 + 15, "body", FONT, "#212121"))
    if node.tag_lines:
        tag_y = node.y + PAD + 18 + LINE * len(node.lines) + 4 + 13
        parts.append(_lines(node.tag_lines, node.x + PAD, tag_y, "condition", SMALL, "#6a1b9a"))
    parts.append("</g>")
    return "".join(parts)


def _lines(lines: list[str], x: float, y: float, part: str, size: int, colour: str) -> str:
    spans = "".join(f'<tspan x="{x:.0f}" dy="{0 if i == 0 else LINE}">{escape(line)}</tspan>'
                    for i, line in enumerate(lines))
    return f'<text data-part="{part}" x="{x:.0f}" y="{y:.0f}" font-size="{size}" fill="{colour}">{spans}</text>'


def _edge(layout: Layout, edge: Edge) -> str:
    a, b = layout.node(edge.source), layout.node(edge.target)
    colour = "#546e7a"
    if edge.rejoin:  # down from the side box, left along the gap above the next step, into its top
        gap_y = b.y - LAYER_GAP / 2 + (8 if a.kind == "handoff" else 0)
        start_x = a.x + a.width / 2
        end_x = b.x + b.width - 40 - (16 if a.kind == "handoff" else 0)
        path = f"M{start_x:.0f},{a.y + a.height:.0f} V{gap_y:.0f} H{end_x:.0f} V{b.y:.0f}"
        label_at = (start_x + 6, a.y + a.height + 16)
        dash = ' stroke-dasharray="5 4"'
    elif a.layer == b.layer:  # to the right, level with the box's title
        y = a.y + 22
        path = f"M{a.x + a.width:.0f},{y:.0f} H{b.x:.0f}"
        label_at = (a.x + a.width + 8, y - 6)
        dash = ""
    else:  # straight down the main column
        x = a.x + 60
        path = f"M{x:.0f},{a.y + a.height:.0f} V{b.y:.0f}"
        label_at = (x + 8, a.y + a.height + LAYER_GAP / 2 + 4)
        dash = ""
    label = (f'<text data-part="edge" x="{label_at[0]:.0f}" y="{label_at[1]:.0f}" font-size="{SMALL}" '
             f'fill="#37474f">{escape(edge.label)}</text>') if edge.label else ""
    return (f'<g data-edge="{escape(edge.source)}→{escape(edge.target)}"><path d="{path}" fill="none" '
            f'stroke="{colour}" stroke-width="1.5"{dash} marker-end="url(#arrow)"/>{label}</g>')
