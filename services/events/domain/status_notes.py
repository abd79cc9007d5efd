"""What a member of the public reads about a case's progress (Open311 ``status_notes``).

Plain words in the reader's language, no clause numbers, no state codes: the public follows
a case through an app or a city website (DOMAIN-REFERENCES §5), not through the policy.
The stages are dispatch's states (P5.3.1–P5.3.3); a case handled on the spot (P5.1.5) is
closed at once and says so.
"""

from __future__ import annotations

from gridgov_common.kernel.languages import DEFAULT

# dispatch state -> (zh-CN, en)
NOTES: dict[str, tuple[str, str]] = {
    "filed": ("已受理，正在分办", "Received; being assessed"),
    "handling_local": ("正在由所在网格办理", "Being handled locally by the grid team"),
    "dispatched": ("已交相关部门办理", "Passed to the responsible department"),
    "in_progress": ("相关部门正在办理", "The responsible department is handling it"),
    "resolved": ("已办结，等待回访", "Resolved; we will check back with you"),
    "closed": ("已回访，办结归档", "Closed after checking back with you"),
    "suspended": ("暂时无法解决，已挂账继续跟踪", "On hold: cannot be solved for now; "
                  "still being followed"),
    "cancelled": ("不属于受理范围，已注销", "Cancelled: not something we can take up"),
    # P5.3.1: a confirmed duplicate waits for the request it was merged into
    "merged": ("已与反映同一问题的诉求合并办理", "Merged with another request about the same "
               "problem; handled together with it"),
}
# P5.3.1/P5.3.3: a confirmed duplicate names the request it was merged into (its number is
# what the public follows), and is finished with it
MERGED: dict[str, tuple[str, str]] = {
    "merged": ("已并入诉求 {number}，与其一并办理",
               "Merged into request {number} about the same problem; handled together with it"),
    "closed": ("已随诉求 {number} 一并办结归档",
               "Closed together with request {number}, into which it was merged"),
    "cancelled": ("已随诉求 {number} 一并注销，不属于受理范围",
                  "Cancelled together with request {number}, into which it was merged: "
                  "not something we can take up"),
}
ON_SPOT = ("网格员已现场处置完毕", "Dealt with on the spot by the grid worker")


ON_SPOT_STATES = (None, "filed", "closed")


def note(dispatch_state: str | None, handled_on_spot: bool, lang: str = DEFAULT,
         merged_into: str | None = None) -> str | None:
    """The note for a case in ``dispatch_state`` (None: not filed by dispatch yet).

    A case handled on the spot was reported closed; dispatch files it and closes it at
    once, and it keeps the on-the-spot note throughout rather than blinking "received".
    ``merged_into``: the number of the request a confirmed duplicate was merged into; the
    merged and final notes name it, so the reporter learns where the result comes from."""
    index = 1 if lang == "en" else 0
    if handled_on_spot and dispatch_state in ON_SPOT_STATES:
        return ON_SPOT[index]
    if merged_into and dispatch_state in MERGED:
        return MERGED[dispatch_state][index].format(number=merged_into)
    if dispatch_state not in NOTES:
        return None
    return NOTES[dispatch_state][index]
