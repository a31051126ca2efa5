/**
 * `@volley/mcp`: Model Context Protocol both ways, on Effect's `effect/ai` `McpClient` and `McpServer`.
 * `McpTools.stdio` / `McpTools.http` turn an MCP server's tools into a Volley toolkit an agent accepts
 * like any other; `McpTools.serve` serves a Volley toolkit to MCP clients. Import it as a namespace.
 */
/** MCP servers' tools as Volley toolkits, and Volley toolkits as MCP servers. */
export * as McpTools from "./McpTools.ts"
