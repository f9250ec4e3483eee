"""The errors a write raises for the user to read: a request that cannot be done, and why."""


class ChatError(Exception):
    """A request the user made that cannot be done; the message is shown to them."""


class ReplyInProgress(ChatError):
    def __init__(self) -> None:
        super().__init__("A reply is still streaming in this conversation. Wait for it or press Stop.")
