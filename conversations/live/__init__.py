"""Live replies in the browser: the frame protocol (realtime), fan-out across processes (relay), the
websocket consumer, and the health and metrics of a process.
"""
