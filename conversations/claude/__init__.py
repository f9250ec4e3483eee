"""The Messages API and Claude's own features: the client (llm), the embedded model, the model
catalog, capabilities, parameters and prices, the Files API, and the tools a reply may use (built-in
tools, memory, web search and fetch, code execution) with their citations.
"""
