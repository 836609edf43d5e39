-- dspex for Neovim (0.11+): the daemon as an LSP client, chat and predict commands,
-- answers streamed into a scratch buffer through LSP partial results, and inline
-- completion (ghost text) in the buffers you edit (lua/dspex/inline.lua).
--
--   require("dspex").setup({ cmd = { "dspex-server" }, provider = nil, model = nil })
--   :DspexChat {prompt}            ask; the answer streams into the dspex://chat buffer
--   :'<,'>DspexPredict {signature}  run a signature (default "text -> answer") on the selection
--   :'<,'>DspexExplain              explain the selection (the dspex.explain command)
local M = {}

M.config = {
  cmd = { "dspex-server" },
  provider = nil,
  model = nil,
  settings = {}, -- sent as initializationOptions (e.g. { providers = { mock = { mode = "echo" } } })
  split = "botright split",
  -- Inline completion: false turns it off; a table overrides lua/dspex/inline.lua's config
  -- (accept_key = "<Tab>", debounce_ms, filetypes, native = false for the extmark path...).
  inline = {},
}

local state = { client_id = nil, streams = {}, next_token = 0 }

local function client()
  if state.client_id then
    local c = vim.lsp.get_client_by_id(state.client_id)
    if c and not c:is_stopped() then
      return c
    end
  end
  local default_progress = vim.lsp.handlers["$/progress"]
  state.client_id = vim.lsp.start({
    name = "dspex",
    cmd = M.config.cmd,
    root_dir = vim.fn.getcwd(),
    init_options = M.config.settings,
    handlers = {
      -- Partial results of our streamed requests arrive as $/progress on their token;
      -- anything else is ordinary work-done progress.
      ["$/progress"] = function(err, result, ctx, cfg)
        local stream = result and state.streams[result.token]
        if stream then
          stream(result.value)
          return
        end
        return default_progress(err, result, ctx, cfg)
      end,
    },
  }, { attach = false })
  return vim.lsp.get_client_by_id(state.client_id)
end

local function output_buffer(name)
  local buf = vim.fn.bufnr(name)
  if buf == -1 then
    buf = vim.api.nvim_create_buf(true, true)
    vim.api.nvim_buf_set_name(buf, name)
    vim.bo[buf].filetype = "markdown"
  end
  if vim.fn.bufwinid(buf) == -1 then
    vim.cmd(M.config.split)
    vim.api.nvim_win_set_buf(0, buf)
  end
  return buf
end

local function append_text(buf, text)
  local last = vim.api.nvim_buf_line_count(buf)
  local tail = vim.api.nvim_buf_get_lines(buf, last - 1, last, false)[1] or ""
  local pieces = vim.split(text, "\n", { plain = true })
  pieces[1] = tail .. pieces[1]
  vim.api.nvim_buf_set_lines(buf, last - 1, last, false, pieces)
end

local function report_error(buf, err)
  local kind = err.data and err.data.kind or tostring(err.code)
  append_text(buf, "\n[error] " .. kind .. ": " .. (err.data and err.data.message or err.message) .. "\n")
end

--- A request's answer is in `buf`: counted (tests wait on `b:dspex_done`), then `on_done`.
local function finished(buf, result, err, on_done)
  vim.b[buf].dspex_done = (vim.b[buf].dspex_done or 0) + 1
  if on_done then
    on_done(result, err)
  end
end

--- Ask the model; the answer streams into the chat buffer. `on_done(result)` is optional.
function M.chat(prompt, on_done)
  local c = client()
  local buf = output_buffer("dspex://chat")
  append_text(buf, "> " .. prompt .. "\n")
  state.next_token = state.next_token + 1
  local token = "dspex-nvim-" .. state.next_token
  state.streams[token] = function(chunk)
    if chunk.delta and chunk.delta.content then
      append_text(buf, chunk.delta.content)
      vim.b[buf].dspex_chunks = (vim.b[buf].dspex_chunks or 0) + 1
    end
  end
  local params = {
    messages = { { role = "user", content = prompt } },
    provider = M.config.provider,
    model = M.config.model,
    partialResultToken = token,
  }
  c:request("dspex/chat", params, function(err, result)
    state.streams[token] = nil
    if err then
      report_error(buf, err)
    else
      append_text(buf, "\n")
    end
    finished(buf, result, err, on_done)
  end)
end

local function first_input(signature)
  local inputs = vim.split(signature, "->", { plain = true })[1]
  local name = vim.trim(vim.split(inputs, ",", { plain = true })[1])
  return vim.trim(vim.split(name, ":", { plain = true })[1])
end

--- Run a signature on text (the selection): outputs are written to dspex://predict.
function M.predict(signature, text, on_done)
  local c = client()
  local buf = output_buffer("dspex://predict")
  local params = {
    signature = signature,
    inputs = { [first_input(signature)] = text },
    provider = M.config.provider,
    model = M.config.model,
  }
  c:request("dspex/predict", params, function(err, result)
    if err then
      report_error(buf, err)
    else
      append_text(buf, "# " .. signature .. "\n")
      for name, value in pairs(result.outputs) do
        append_text(buf, name .. ": " .. (type(value) == "string" and value or vim.json.encode(value)) .. "\n")
      end
    end
    finished(buf, result, err, on_done)
  end)
end

--- Explain lines `line1`..`line2` of the current buffer (dspex.explain); the answer goes to
--- the dspex://chat buffer.
function M.explain(line1, line2, on_done)
  local c = client()
  local source = vim.api.nvim_get_current_buf()
  vim.lsp.buf_attach_client(source, c.id) -- the daemon reads the synced text
  local last = vim.api.nvim_buf_get_lines(source, line2 - 1, line2, false)[1] or ""
  local range = { start = { line = line1 - 1, character = 0 }, ["end"] = { line = line2 - 1, character = #last } }
  local args = { uri = vim.uri_from_bufnr(source), range = range, show = "none",
    provider = M.config.provider, model = M.config.model }
  local buf = output_buffer("dspex://chat")
  c:request("workspace/executeCommand", { command = "dspex.explain", arguments = { args } }, function(err, result)
    if err then
      report_error(buf, err)
    else
      append_text(buf, "> explain lines " .. line1 .. "-" .. line2 .. "\n" .. result.text .. "\n")
    end
    finished(buf, result, err, on_done)
  end)
end

--- Sync `bufnr` with the daemon and give it inline completion.
function M.attach(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local c = client()
  vim.lsp.buf_attach_client(bufnr, c.id)
  require("dspex.inline").attach(c.id, bufnr)
end

function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", M.config, opts or {})
  if M.config.inline ~= false then
    local inline = require("dspex.inline")
    inline.config = vim.tbl_deep_extend("force", inline.config, M.config.inline or {})
    vim.api.nvim_create_autocmd({ "BufEnter", "FileType" }, {
      group = vim.api.nvim_create_augroup("dspex_attach", { clear = true }),
      callback = function(ev)
        if vim.bo[ev.buf].buftype == "" and vim.api.nvim_buf_get_name(ev.buf) ~= "" then
          M.attach(ev.buf)
        end
      end,
    })
  end
  vim.api.nvim_create_user_command("DspexChat", function(args)
    M.chat(args.args)
  end, { nargs = "+", desc = "Ask a model through dspex" })
  vim.api.nvim_create_user_command("DspexPredict", function(args)
    local lines = vim.api.nvim_buf_get_lines(0, args.line1 - 1, args.line2, false)
    local signature = args.args ~= "" and args.args or "text -> answer"
    M.predict(signature, table.concat(lines, "\n"))
  end, { nargs = "*", range = "%", desc = "Run a dspex signature on the selection" })
  vim.api.nvim_create_user_command("DspexExplain", function(args)
    M.explain(args.line1, args.line2)
  end, { range = "%", desc = "Explain the selection with dspex" })
end

return M
