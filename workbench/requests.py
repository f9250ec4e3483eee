"""Pure: the requests a workbench run sends (a case on one side, live or in a batch; a grader's,
live or in a batch), and reading a grader's answer. Standard library only; pinned by exact-JSON tests."""

import json
from collections.abc import Sequence

GRADE_SCHEMA = {
    "type": "object",
    "properties": {
        "score": {"type": "integer", "enum": [1, 2, 3, 4, 5]},
        "reason": {"type": "string"},
    },
    "required": ["score", "reason"],
    "additionalProperties": False,
}
GRADER_MAX_TOKENS = 300
REASON_CHARS = 300
GRADER_SYSTEM = (
    "You grade one answer of an AI assistant against a rubric. Score it from 1 (fails the rubric) "
    "to 5 (fully meets it), and give the reason in one line. When an expected answer is given, "
    "judge how well the answer agrees with it.\n\nRubric:\n"
)


def cache_control(ttl: str) -> dict:
    """As a chat sends its prompt (reply/anthropic_request.py), so runs share the chats' cache."""
    return {"type": "ephemeral", "ttl": "1h"} if ttl == "1h" else {"type": "ephemeral"}


def case_request(
    *,
    model: str,
    max_tokens: int,
    prompt_text: str,
    cache_ttl: str,
    case_input: str,
    user_id: str,
    file_blocks: Sequence[dict] = (),
) -> dict:
    """The keyword arguments of `messages.create` for one case on one side (minus `stream`): the
    version's text as the cached system prompt, the case's input as the one user turn, its files'
    blocks first (as a chat's turn puts them: the order the API recommends)."""
    return {
        "model": model,
        "max_tokens": max_tokens,
        "system": [{"type": "text", "text": prompt_text, "cache_control": cache_control(cache_ttl)}],
        "messages": [{"role": "user", "content": [*file_blocks, {"type": "text", "text": case_input}]}],
        "metadata": {"user_id": user_id},
    }


def batch_request(custom_id: str, params: dict) -> dict:
    """One request of a Message Batch."""
    return {"custom_id": custom_id, "params": params}


def grader_request(
    *, model: str, rubric: str, case_input: str, expected: str, output: str, file_names: Sequence[str] = ()
) -> dict:
    """A grader's request: structured output (`output_config.format`) with a score and a reason.
    The input's files are named, not sent: each grade would pay for them again."""
    parts = [f"<input>\n{case_input}\n</input>"]
    if file_names:
        parts.append(
            f"<files>\nThe input came with these files, not shown here: {', '.join(file_names)}\n</files>"
        )
    if expected:
        parts.append(f"<expected>\n{expected}\n</expected>")
    parts.append(f"<answer>\n{output}\n</answer>")
    return {
        "model": model,
        "max_tokens": GRADER_MAX_TOKENS,
        "system": GRADER_SYSTEM + rubric,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "\n\n".join(parts)}]}],
        "output_config": {"format": {"type": "json_schema", "schema": GRADE_SCHEMA}},
    }


def parse_grade(text: str) -> tuple[int, str]:
    """(score, one-line reason) from a grader's JSON. Raises ValueError when it does not fit."""
    data = json.loads(text)
    score = data.get("score") if isinstance(data, dict) else None
    if (
        not isinstance(score, int)
        or isinstance(score, bool)
        or score not in GRADE_SCHEMA["properties"]["score"]["enum"]
    ):
        raise ValueError(f"score {score!r} is not 1 to 5")
    reason = " ".join(str(data.get("reason", "")).split())
    return score, reason[:REASON_CHARS]


def parse_custom_id(custom_id: str, kind: str = "case") -> tuple[int, str] | None:
    """(case position, side) from `<kind>-<position>-<side>`: `case-` names a case's request
    (models.Result.custom_id), `grade-` its grader's (Result.grade_custom_id)."""
    parts = custom_id.split("-")
    if len(parts) != 3 or parts[0] != kind or not parts[1].isdigit() or parts[2] not in ("a", "b"):
        return None
    return int(parts[1]), parts[2]
