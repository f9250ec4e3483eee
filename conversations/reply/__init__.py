"""One reply, read top-down: its run (generation), its request (reply_request, built by the pure
anthropic_request), its stream of blocks (reply_blocks), fitting the context window, and the title
after the first one.
"""
