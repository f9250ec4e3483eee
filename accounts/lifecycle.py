"""Where data kept outside this database is deleted along with ours."""


def remote_data_delete(attachments) -> None:
    """Called with the attachment rows (a queryset) about to be deleted by retention or account
    deletion, inside the deleting transaction. THE PLACE TO DELETE THEIR REMOTE COPIES (the API's
    Files storage) and any memory kept about them. Nothing is kept remotely yet: it does nothing."""
    return None


def user_remote_data_delete(user) -> None:
    """Called when a user deletes their account, after their conversations are scrubbed: THE PLACE
    TO DELETE WHAT IS KEPT FOR THEM OUTSIDE THIS DATABASE (remote files, the memory store).
    Nothing is kept remotely yet: it does nothing."""
    return None
