"""The console's permission matrix as a table (tests/console/test_permissions.py checks it): every route ×
every role × own/other branch → what the user gets. Readable as the documentation of who may do what."""

from __future__ import annotations

from tests.console.conftest import PASSWORD

LINE = "+861088880000"  # the agent line the robot hands off to, and the agent account's line

ROLES = ("anonymous", "branch", "agent", "supervisor", "compliance", "qa", "admin", "branch+compliance",
         "branch+admin")
ACCOUNTS = {  # role → (user, roles, branches, agent line); 王芳 and 张总 come with the console fixture
    "branch": ("王芳", ["branch"], ["110100"], None),
    "supervisor": ("张总", ["supervisor"], [], None),
    "agent": ("坐席陈", ["agent"], ["110100"], LINE),
    "compliance": ("合规李", ["compliance"], [], None),
    "qa": ("质检周", ["qa"], [], None),
    "admin": ("管理员", ["admin"], [], None),
    # a user has one or more roles: each role grants its own rights over its own scope, and no more
    "branch+compliance": ("周立", ["branch", "compliance"], ["110100"], None),
    "branch+admin": ("吴刚", ["branch", "admin"], ["110100"], None),
}
BRANCH_BOUND = ("branch", "agent", "branch+admin")  # their scope is 110100: nothing of 120100 may ever reach them

# -- the matrix -------------------------------------------------------------------------------------------
#
# A cell is the answer for that role; "OWN|OTHER" when the row names a branch's data and the answers differ
# (one value: the same on both sides). Rows run top to bottom with one signed-in client per role (sign-out last).
#   200      the page; on a branch's row it shows that branch's policy (its applicant's name is in it;
#            the XLSX export is read as a workbook)
#   empty    200, but nothing of that branch is in it (a list or export filtered to a branch out of scope)
#   206      the audio (asked with a Range header)
#   login    302 to the sign-in page
#   →PATH    302 to PATH (a form that succeeded, a desk's landing page, a search's exact hit, signed in)
#   403      the desk is not the role's (console.context.page_actor)
#   422      the form again with a message beside its field (nothing changed)
#   404      out of the role's scope: the same answer as a thing that does not exist
# Path placeholders take the side's values: {code} branch, {policy} policy number, {case} case id,
# {recording} RecordingSid of the stored recording, {call} CallSid of the handed-off call, {opposite_case}
# the other side's case; {import} the id of a finished policy-file import (not a branch's data).
#
# Signing in: each role with its own password (→ its landing page); anonymous with a name no one has (200: the
# form again, refused). Signing out answers everyone with the sign-in page.
#
# Decisions where docs/console.md leaves room (the safer answer, refusing, where it is ambiguous):
# * agent: "sees calls handed off to it, and their policies" is read as on the hand-off desk (the call page
#   shows the policy); the policy search and policy pages are not the agent's desk (403), nor is audio
#   (recordings are not in the agent's row of the roles table).
# * supervisor: "sees everything" does not make the agent desk theirs: it is the signed-in agent's own line's
#   work (403). Bulk assignment is the supervisor's alone; a branch user assigns one case at a time.
# * qa lands on the quality desk (its sample), and reads the case queue, cases, policies and recordings of every
#   branch and, like compliance (read-only on cases), does not resolve or assign (403).
# * exports are the queue's filtered rows: whoever reads the queue may export what it shows (and is audited).
# * the dashboard (/console/ for supervisors) and the KPI page are the supervisor's (the roles table: "dashboards");
#   a branch user does not get them for their own branches (the other roles keep their landing pages).
# * admin: users only; every other desk is 403, recordings included ("not compliance exports").
# * several roles: each role's rights over that role's scope. branch+compliance reads every branch but works
#   only its own: another branch's case is 404 to the resolve and assign forms (the handling scope does not
#   find it; 403 would do too, 404 needs no new answer). admin sees no branch's data, so branch+admin is
#   scoped like branch.
# * the dialer page (/console/dialer): pausing and resuming calling is the supervisor's ("controls"); an
#   administrator may view it (the dialers' health: no personal data, and watching the running processes is
#   theirs) but not pause or resume (403); everyone else 403, branch users included.
# * the quality desk (/console/qa): qa and supervisor review (docs/console.md: qa "sampled calls and cases"); to
#   every other role the desk and its samples do not exist (404, as qa.reviews' NotAllowed is shown), unlike the
#   other desks' 403. {sample} is a sampled case (not a branch's side: both sides alike).
HOME = "→/console/"
CASE_PAGE = "→/console/cases/{case}"
QUEUE = "→/console/cases"
POLICY_PAGE = "→/console/policies/{policy}"
CALL_PAGE = "→/console/agent/calls/{call}"
SEARCH = "→/console/recordings"
SEARCH_POLICY = "→/console/recordings?policy={policy}"
RETENTION = "→/console/recordings/retention"
IMPORT_PAGE = "→/console/imports/{import}"  # a finished import is not run again: back to its page, nothing changed
DIALER = "→/console/dialer"
QA_SAMPLE = "→/console/qa/{sample}"
SIMULATOR = "→/console/flows/traditional/simulate#call"
MATRIX: tuple[tuple[str, str, str, str, str, str, str, str, str, str], ...] = (
    # request                                                              anonymous branch                  agent               supervisor   compliance   qa           admin              branch+compliance   branch+admin
    ("GET /console/login",                                                 "200",    "200",                  "200",              "200",       "200",       "200",       "200",             "200",              "200"),
    ("POST /console/login",                                                "200",    HOME,                   HOME,               HOME,        HOME,        HOME,        HOME,              HOME,               HOME),
    ("GET /console/",                                                      "login",  QUEUE,                  "→/console/agent",  "200",       QUEUE,       "→/console/qa", "→/console/users", QUEUE,           QUEUE),
    ("GET /console/cases?branch={code}",                                   "login",  "200|empty",            "403",              "200",       "200",       "200",       "403",             "200",              "200|empty"),
    ("GET /console/cases?branch={code}&format=csv",                        "login",  "200|empty",            "403",              "200",       "200",       "200",       "403",             "200",              "200|empty"),
    ("GET /console/cases?branch={code}&format=xlsx",                       "login",  "200|empty",            "403",              "200",       "200",       "200",       "403",             "200",              "200|empty"),
    ("GET /console/cases/{case}",                                          "login",  "200|404",              "403",              "200",       "200",       "200",       "403",             "200",              "200|404"),
    ("POST /console/cases/{case}/resolve",                                 "login",  f"{CASE_PAGE}|404",     "403",              CASE_PAGE,   "403",       "403",       "403",             f"{CASE_PAGE}|404", f"{CASE_PAGE}|404"),
    ("POST /console/cases/{case}/assign",                                  "login",  f"{CASE_PAGE}|404",     "403",              CASE_PAGE,   "403",       "403",       "403",             f"{CASE_PAGE}|404", f"{CASE_PAGE}|404"),
    # the world's callbacks are handed off (a call under way): a handler reaches the rule, which refuses the move
    ("POST /console/cases/{case}/channel",                                 "login",  "422|404",              "403",              "422",       "403",       "403",       "403",             "422|404",          "422|404"),
    # the world's cases are not letter or visit cases: a handler reaches the service, which refuses the form
    ("POST /console/cases/{case}/reply",                                   "login",  "422|404",              "403",              "422",       "403",       "403",       "403",             "422|404",          "422|404"),
    ("POST /console/cases/assign",                                         "login",  "403",                  "403",              QUEUE,       "403",       "403",       "403",             "403",              "403"),
    ("GET /console/policies?q={policy}",                                   "login",  f"{POLICY_PAGE}|empty", "403",              POLICY_PAGE, POLICY_PAGE, POLICY_PAGE, "403",             POLICY_PAGE,        f"{POLICY_PAGE}|empty"),
    ("GET /console/policies/{policy}",                                     "login",  "200|404",              "403",              "200",       "200",       "200",       "403",             "200",              "200|404"),
    ("GET /console/agent",                                                 "login",  "403",                  "200",              "403",       "403",       "403",       "403",             "403",              "403"),
    ("GET /console/agent/calls/{call}",                                    "login",  "403",                  "200|404",          "403",       "403",       "403",       "403",             "403",              "403"),
    ("POST /console/agent/calls/{call}/outcome",                           "login",  "403",                  f"{CALL_PAGE}|404", "403",       "403",       "403",       "403",             "403",              "403"),
    ("GET /console/recordings/{recording}/audio?for=case:{case}",          "login",  "206|404",              "403",              "206",       "206",       "206",       "403",             "206",              "206|404"),
    ("GET /console/recordings/{recording}/audio?for=policy:{policy}",      "login",  "206|404",              "403",              "206",       "206",       "206",       "403",             "206",              "206|404"),
    # a recording asked for from a page it is not on (the other side's case): not found, for everyone
    ("GET /console/recordings/{recording}/audio?for=case:{opposite_case}", "login",  "404",                  "403",              "404",       "404",       "404",       "403",             "404",              "404"),
    # the compliance desk: recording readers search (compliance, supervisor, qa); compliance keeps (disputes, purge);
    # the search page's player needs the reason given for the session first (the row before it gives it)
    ("GET /console/recordings?branch={code}",                              "login",  "403",                  "403",              "200",       "200",       "200",       "403",             "200",              "403"),
    ("POST /console/recordings/reason",                                    "login",  "403",                  "403",              SEARCH,      SEARCH,      SEARCH,      "403",             SEARCH,             "403"),
    ("GET /console/recordings/{recording}/audio?for=recordings",           "login",  "404",                  "403",              "206",       "206",       "206",       "403",             "206",              "404"),
    ("GET /console/recordings/screens/999999?for=policy:{policy}",          "login",  "404",                  "403",              "404",       "404",       "404",       "403",             "404",              "404"),  # no such screen: the desk answers 403 first; a real one in scope: tests/ecallback/test_console_view.py
    ("POST /console/recordings/bundle",                                    "login",  "403",                  "403",              "200",       "200",       "200",       "403",             "200",              "403"),
    ("POST /console/recordings/dispute",                                   "login",  "403",                  "403",              "403",       SEARCH_POLICY, "403",     "403",             SEARCH_POLICY,      "403"),
    ("GET /console/recordings/retention",                                  "login",  "403",                  "403",              "403",       "200",       "403",       "403",             "200",              "403"),
    ("POST /console/recordings/purge",                                     "login",  "403",                  "403",              "403",       RETENTION,   "403",       "403",             RETENTION,          "403"),
    ("GET /console/audit?action=find",                                     "login",  "403",                  "403",              "403",       "200",       "403",       "200",             "200",              "200"),
    ("GET /console/audit?action=find&format=csv",                          "login",  "403",                  "403",              "403",       "200",       "403",       "200",             "200",              "200"),
    ("GET /console/reports/kpi?month=2026-11",                             "login",  "403",                  "403",              "200",       "403",       "403",       "403",             "403",              "403"),
    ("GET /console/reports/kpi?month=2026-11&by=agent&format=csv",         "login",  "403",                  "403",              "200",       "403",       "403",       "403",             "403",              "403"),
    ("GET /console/reports/kpi?month=2026-11&by=product_type&format=xlsx", "login",  "403",                  "403",              "200",       "403",       "403",       "403",             "403",              "403"),
    ("GET /console/users",                                                 "login",  "403",                  "403",              "403",       "403",       "403",       "200",             "403",              "200"),
    # policy files: supervisors and administrators (an upload without a file: the form again, 422)
    ("GET /console/imports",                                               "login",  "403",                  "403",              "200",       "403",       "403",       "200",             "403",              "200"),
    ("POST /console/imports",                                              "login",  "403",                  "403",              "422",       "403",       "403",       "422",             "403",              "422"),
    ("GET /console/imports/{import}",                                      "login",  "403",                  "403",              "200",       "403",       "403",       "200",             "403",              "200"),
    ("GET /console/imports/{import}/progress",                             "login",  "403",                  "403",              "200",       "403",       "403",       "200",             "403",              "200"),
    ("GET /console/imports/{import}/rejected.xlsx",                        "login",  "403",                  "403",              "200",       "403",       "403",       "200",             "403",              "200"),
    ("POST /console/imports/{import}/rerun",                               "login",  "403",                  "403",              IMPORT_PAGE, "403",       "403",       IMPORT_PAGE,       "403",              IMPORT_PAGE),
    ("GET /console/imports/held",                                          "login",  "403",                  "403",              "200",       "403",       "403",       "200",             "403",              "200"),
    ("GET /console/dialer",                                                "login",  "403",                  "403",              "200",       "403",       "403",       "200",             "403",              "200"),
    ("POST /console/dialer/pause",                                         "login",  "403",                  "403",              DIALER,      "403",       "403",       "403",             "403",              "403"),
    ("POST /console/dialer/resume",                                        "login",  "403",                  "403",              DIALER,      "403",       "403",       "403",             "403",              "403"),
    # quality inspection (质检): reviewers (qa) and supervisors; for everyone else the desk does not exist (404)
    ("GET /console/qa",                                                    "login",  "404",                  "404",              "200",       "404",       "200",       "404",             "404",              "404"),
    ("GET /console/qa/{sample}",                                           "login",  "404",                  "404",              "200",       "404",       "200",       "404",             "404",              "404"),
    ("POST /console/qa/{sample}/review",                                   "login",  "404",                  "404",              QA_SAMPLE,   "404",       QA_SAMPLE,   "404",             "404",              "404"),
    # the flow studio: supervisors and administrators (a key that is no prompt of the flow: not found); the simulator
    # writes nothing (an answer with no simulation running goes back to the simulator's page)
    ("GET /console/flows",                                                 "login",  "403",                  "403",              "200",       "403",       "403",       "200",             "403",              "200"),
    ("GET /console/flows/traditional",                                     "login",  "403",                  "403",              "200",       "403",       "403",       "200",             "403",              "200"),
    (f"GET /console/flows/traditional/audio/{'0' * 64}",                   "login",  "403",                  "403",              "404",       "403",       "403",       "404",             "403",              "404"),
    ("GET /console/flows/traditional/simulate",                            "login",  "403",                  "403",              "200",       "403",       "403",       "200",             "403",              "200"),
    ("POST /console/flows/traditional/simulate",                           "login",  "403",                  "403",              SIMULATOR,   "403",       "403",       SIMULATOR,         "403",              SIMULATOR),
    ("POST /console/flows/traditional/simulate/answer",                    "login",  "403",                  "403",              SIMULATOR,   "403",       "403",       SIMULATOR,         "403",              SIMULATOR),
    # result notifications' dead letters: supervisors and administrators (a resend of no such event: the page again, 422)
    ("GET /console/notifications",                                         "login",  "403",                  "403",              "200",       "403",       "403",       "200",             "403",              "200"),
    ("POST /console/notifications/resend",                                 "login",  "403",                  "403",              "422",       "403",       "403",       "422",             "403",              "422"),
    ("POST /console/logout",                                               "login",  "login",                "login",            "login",     "login",     "login",     "login",           "login",            "login"),
)

# What each form sends (besides its CSRF token): valid, so that only the permission decides. {version} is the
# case's version as the page would show it now; {user} the role's account (anonymous: a name no one has).
FORMS: dict[str, dict[str, str]] = {
    "/console/login": {"username": "{user}", "password": PASSWORD},
    "/console/logout": {},
    "/console/cases/{case}/resolve": {"action": "overdue_explanation", "note": "客户出差，下周一回访",
                                      "version": "{version}"},
    "/console/cases/{case}/assign": {"to": "王芳", "version": "{version}"},
    "/console/cases/assign": {"case": "{case}:{version}", "to": "王芳", "back": ""},
    "/console/cases/{case}/channel": {"to": "letter", "reason": "投保人要求更换回访方式"},
    "/console/cases/{case}/reply": {"signed_on": "2026-11-20", "version": "{version}"},
    "/console/agent/calls/{call}/outcome": {"outcome": "clarified", "note": "已向客户解释保险责任"},
    "/console/recordings/reason": {"reason": "客户投诉复核", "back": "/console/recordings"},
    "/console/recordings/bundle": {"policy": "{policy}", "reason": "客户投诉 2026-0042"},
    "/console/recordings/dispute": {"policy": "{policy}", "action": "open", "start": "2026-11-20", "reason": "客户投诉",
                                    "was": "/"},
    "/console/recordings/purge": {"recording": "", "reason": "保存期满"},
    "/console/imports": {},
    "/console/imports/{import}/rerun": {},
    "/console/notifications/resend": {"event": "no-such-event"},
    "/console/dialer/pause": {"branch": "", "product_type": "health", "reason": "健康险话术更新"},
    "/console/dialer/resume": {"branch": "", "product_type": "health", "reason": "话术已更新"},
    "/console/qa/{sample}/review": {"followed_rules": "yes", "score": "90", "remarks": "", "version": "{sample_version}"},
    "/console/flows/traditional/simulate": {"variant": "A", "channel": "agency", "age": "45"},
    "/console/flows/traditional/simulate/answer": {"input": "yes"},
}
CHANGES = ("/resolve", "/assign", "/outcome", "/pause", "/resume")  # a POST here that succeeds changes the database
# each one given: one audit line (a search, an export, a playback)
AUDITED = ("/console/cases?branch={code}&format=", "/console/recordings/{recording}/", "/console/recordings/bundle",
           "/console/recordings?",
           "/console/audit?action=find&format=", "/console/imports/{import}/rejected",
           "/console/reports/kpi?month=2026-11&by=")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ZIP = "application/zip"
