"""Takes up open workbench runs in each server process (worker.ensure_sweeper) on its first request:
a run whose process stopped (a restart, a deploy) goes on without anyone opening its page."""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction


def resume_runs(get_response):
    if not iscoroutinefunction(get_response):
        return get_response  # no event loop to run in (the test client, WSGI): nothing to do

    from . import worker

    async def middleware(request):
        worker.ensure_sweeper()  # a dictionary lookup once running
        return await get_response(request)

    markcoroutinefunction(middleware)
    return middleware


resume_runs.sync_capable = True
resume_runs.async_capable = True
