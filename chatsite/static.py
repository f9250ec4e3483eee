"""WhiteNoise for static files, without making every request synchronous.

WhiteNoise's middleware is sync-only; in Django's middleware chain that turns each request into
a thread hop (async view -> sync middleware -> async view again). Here only /static/ requests go
to WhiteNoise; everything else stays on the event loop.
"""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.prefix = "/" + settings.STATIC_URL.lstrip("/")
        self.whitenoise = WhiteNoiseMiddleware(get_response=lambda request: None)  # None: not a file
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        return self._static(request) or self.get_response(request)

    async def __acall__(self, request):
        if request.path_info.startswith(self.prefix):
            response = await sync_to_async(self.whitenoise)(request)
            if response is not None:
                return response
        return await self.get_response(request)

    def _static(self, request):
        return self.whitenoise(request) if request.path_info.startswith(self.prefix) else None
