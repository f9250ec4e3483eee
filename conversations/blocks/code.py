"""Kinds of Claude's code execution (conversations/claude/code_execution.py, the sandbox): a call
(Python code, a shell command, or a file created, viewed or edited) and its result (output,
errors and the files the code made), replayed verbatim in later turns."""

from conversations.blocks.kind import (
    CALL,
    SERVER_CALL,
    Kind,
    call_text,
    content_of,
    fenced,
    input_of,
    md_code,
    result_text,
)

TOOL = "code_execution"  # the tool as a request names it; its calls are named after the sandbox's tools
CALLS = {  # call name -> what the tab shows while its input streams (the first field it has)
    "code_execution": ("code",),
    "bash_code_execution": ("command",),
    "text_editor_code_execution": ("file_text", "new_str"),
}
RESULTS = (
    "code_execution_tool_result",
    "bash_code_execution_tool_result",
    "text_editor_code_execution_tool_result",
)


def _call_markdown(block: dict, sources) -> str:
    value = input_of(block)
    code = value.get("code") or value.get("file_text") or value.get("command") or ""
    where = f" {md_code(value['path'])}" if value.get("path") else ""
    return f"Code execution{where}:\n\n{fenced(str(code))}"


def _result_markdown(block: dict, sources) -> str:
    content = content_of(block)
    if "error_code" in content:
        return f"*[Code execution failed: {content['error_code']}]*"
    output = "\n".join(str(content[name]) for name in ("stdout", "stderr") if content.get(name))
    return f"Output:\n\n{fenced(output)}" if output else "*[Code execution: no output]*"


def file_ids(block: dict) -> list[str]:
    """The files a code execution result lists (its outputs), in order."""
    content = block.get("content")
    if block.get("type") not in RESULTS or not isinstance(content, dict):
        return []
    outputs = content.get("content")
    return [
        output["file_id"]
        for output in (outputs if isinstance(outputs, list) else [])
        if isinstance(output, dict) and isinstance(output.get("file_id"), str)
    ]


KINDS = (
    Kind(
        SERVER_CALL,
        CALL,
        partial="code_call",
        label="Code execution",
        markdown=_call_markdown,
        streams="code",
        code_fields=CALLS,
        as_text=call_text,
        is_call=True,
        matches=lambda block: block.get("name") in CALLS,
    ),
    *(
        Kind(
            kind,
            {"tool_use_id": str, "content": dict},
            partial="code_result",
            label="Code output",
            markdown=_result_markdown,
            as_text=result_text,
            replayed=True,
        )
        for kind in RESULTS
    ),
)


SHOWN_AS = {
    "code_execution": "python",
    "bash_code_execution": "shell",
    "text_editor_code_execution": "editor",
}
RESULT_OPS = {
    "text_editor_code_execution_create_result": "create",
    "text_editor_code_execution_view_result": "view",
    "text_editor_code_execution_str_replace_result": "str_replace",
    "encrypted_code_execution_result": "encrypted",
}


def call_view(block: dict) -> dict:
    """What the call's partial shows: which sandbox tool ran (python, shell or the file editor),
    and whether its input is still streaming (then a string: its code so far)."""
    return {
        "tool": SHOWN_AS.get(block.get("name"), "python"),
        "streaming": isinstance(block.get("input"), str),
    }


def result_op(block: dict) -> str:
    """What the result's partial shows: a file created, viewed or edited, encrypted output, or a run."""
    return RESULT_OPS.get(content_of(block).get("type"), "run")
