"""What each model accepts: the capability table, matched by the longest model-id prefix.

Whether attachments go by Files API `file_id` or as base64 is decided here too (`uses_files_api`).
The Opus 4.8 family rejects sampling parameters (temperature, top_p, top_k), so the settings form
hides them and the server refuses them for it. The embedded SmolLM2 model reads text only and has
no tool use or thinking worth offering.
"""

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Capabilities:
    sampling: bool = True  # temperature, top_p, top_k
    adaptive_thinking: bool = False
    effort: bool = False
    tools: bool = True
    files: bool = True  # images and PDFs
    web: bool = True  # the web_search and web_fetch server tools (their 20260318 versions)
    code: bool = True  # the code execution server tool (sandbox.py)
    files_api: bool = True  # referenced by file_id (uploaded once) rather than sent as base64
    compaction: bool = False  # the API's compaction edit (compaction.py); the model list may say more
    context_1m: bool = False  # a 1M-token window behind the context-1m-2025-08-07 beta (a chat's option)
    context_window: int = 200_000
    max_output: int = 32_000
    structured_outputs: bool = True  # output_config.format (a JSON schema): the workbench's grader


TABLE = {
    "claude-opus-4-8": Capabilities(
        sampling=False, adaptive_thinking=True, effort=True, compaction=True, max_output=128_000
    ),
    "claude-opus-4": Capabilities(adaptive_thinking=True, effort=True, max_output=64_000),
    "claude-sonnet-4-6": Capabilities(
        adaptive_thinking=True, effort=True, compaction=True, max_output=64_000
    ),
    "claude-sonnet-4": Capabilities(max_output=64_000, context_1m=True),  # Sonnet 4 and 4.5
    "claude-haiku-4": Capabilities(max_output=64_000),
    # The 2026 web and code execution tool versions are for Claude 4 and later.
    "claude-3": Capabilities(web=False, code=False, structured_outputs=False),
    "claude-": Capabilities(),
}
LOCAL = Capabilities(
    tools=False,
    files=False,
    web=False,
    code=False,
    files_api=False,
    context_window=8192,
    max_output=2048,
    structured_outputs=False,
)


def capabilities(model: str) -> Capabilities:
    if model == settings.CHAT_LOCAL_MODEL_NAME:
        return LOCAL
    matches = [prefix for prefix in TABLE if model.startswith(prefix)]
    return TABLE[max(matches, key=len)] if matches else Capabilities()


def reads_files(model: str) -> bool:
    return capabilities(model).files


def uses_files_api(model: str) -> bool:
    """Attachments go by file_id: a Claude endpoint with the Files API (`CHAT_FILES_API`, on by
    default), and a model that reads files. The embedded model, or an endpoint without it: base64."""
    return settings.CHAT_FILES_API and not settings.CHAT_USE_LOCAL_MODEL and capabilities(model).files_api
