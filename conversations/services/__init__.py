"""Writes of the chat: views, the consumer and the reply's run call these, each a transaction of its
own. Split by job: turns.py (start, send, edit, retry, continue, regenerate, choose), replies.py
(the reply store), settings.py (rename, configure, switch prompt, a team's web access),
feedback.py (Good response or Bad response on a reply, and a comment), attachments.py (uploads),
rendered.py (stored HTML brought up to date), errors.py. Callers use them from here:
`services.<function>`. (The library's own writes, organising, sharing and import,
are in conversations/library/.)"""

from conversations.services.approvals import approval_answer, approval_of, approval_open, approvals_close
from conversations.services.attachments import attachment_store
from conversations.services.errors import ChatError, ReplyInProgress
from conversations.services.feedback import feedback_comment, feedback_rate
from conversations.services.rendered import blocks_rerender
from conversations.services.replies import (
    ReplyOutcome,
    api_call_record,
    block_save,
    message_token_count_set,
    orphaned_replies_interrupt,
    produced_file_record,
    replies_checkpoint,
    reply_finish,
)
from conversations.services.settings import (
    conversation_configure,
    conversation_rename,
    conversation_switch_prompt,
    conversation_title_replace,
    team_policy_update,
    tool_defaults_remember,
    tools_choose,
)
from conversations.services.turns import (
    TITLE_LENGTH,
    check_message_text,
    conversation_start,
    message_edit,
    message_send,
    reply_continue,
    reply_regenerate,
    reply_retry,
    title_from_text,
    version_choose,
)

__all__ = [
    "approval_answer",
    "approval_of",
    "approval_open",
    "approvals_close",
    "TITLE_LENGTH",
    "ChatError",
    "ReplyInProgress",
    "ReplyOutcome",
    "api_call_record",
    "attachment_store",
    "block_save",
    "blocks_rerender",
    "check_message_text",
    "conversation_configure",
    "conversation_rename",
    "conversation_start",
    "conversation_switch_prompt",
    "conversation_title_replace",
    "feedback_comment",
    "feedback_rate",
    "message_edit",
    "message_send",
    "message_token_count_set",
    "orphaned_replies_interrupt",
    "produced_file_record",
    "replies_checkpoint",
    "reply_continue",
    "reply_finish",
    "reply_regenerate",
    "reply_retry",
    "team_policy_update",
    "tool_defaults_remember",
    "tools_choose",
    "title_from_text",
    "version_choose",
]
