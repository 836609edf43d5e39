-- Inline completion (ghost text) from dspex's `textDocument/inlineCompletion`.
--
-- Neovim 0.12+ has it built in (`vim.lsp.inline_completion`): the recipe enables it and maps
-- the accept key. On 0.11 (and with `native = false`) this module does it itself: requests on
-- TextChangedI (debounced; a newer request cancels the older one), the first item shown as
-- virtual text at the cursor (extmarks), accepted with a key that inserts it and runs the
-- item's command (the daemon counts it accepted), dismissed when the cursor moves away or
-- insert mode ends. Showing an item sends `dspex/inlineCompletion/didShow`.
local M = {}

M.config = {
  enabled = true,
  native = nil, -- nil: vim.lsp.inline_completion where Neovim has it; false: always this module
  debounce_ms = 50,
  accept_key = "<Tab>",
  dismiss_key = "<C-]>",
  filetypes = nil, -- nil: every filetype; else a list, e.g. { "python", "lua" }
  hl_group = "Comment",
}

local ns = vim.api.nvim_create_namespace("dspex_inline")
local METHOD = "textDocument/inlineCompletion"
local buffers = {} -- bufnr -> { timer, request, item, row, col, tick }

local function native_available()
  return vim.lsp.inline_completion ~= nil and M.config.native ~= false
end

local function buffer_state(bufnr)
  local state = buffers[bufnr]
  if not state then
    state = {}
    buffers[bufnr] = state
  end
  return state
end

local function client_for(bufnr)
  local state = buffers[bufnr]
  local client = state and state.client_id and vim.lsp.get_client_by_id(state.client_id)
  if client and not client:is_stopped() then
    return client
  end
end

--- Hide the ghost text and forget the request in flight (cancelled at the daemon).
function M.dismiss(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local state = buffers[bufnr]
  if not state then
    return
  end
  vim.api.nvim_buf_clear_namespace(bufnr, ns, 0, -1)
  state.item = nil
  if state.request then
    local client = client_for(bufnr)
    if client then
      client:cancel_request(state.request)
    end
    state.request = nil
  end
end

local function item_text(item)
  local text = item.insertText
  if type(text) == "table" then -- a snippet: shown and inserted as its plain text
    text = text.value
  end
  return text or ""
end

local function show(bufnr, item)
  local text = item_text(item)
  if text == "" then
    return
  end
  local state = buffers[bufnr]
  local lines = vim.split(text, "\n", { plain = true })
  local virt_lines = {}
  for i = 2, #lines do
    virt_lines[#virt_lines + 1] = { { lines[i], M.config.hl_group } }
  end
  vim.api.nvim_buf_set_extmark(bufnr, ns, state.row, state.col, {
    virt_text = { { lines[1], M.config.hl_group } },
    virt_text_pos = "inline",
    virt_lines = #virt_lines > 0 and virt_lines or nil,
  })
  state.item = item
  local client = client_for(bufnr)
  local id = item.command and item.command.arguments and item.command.arguments[1]
  if client and id then
    client:notify("dspex/inlineCompletion/didShow", { id = id })
  end
end

--- Ask the daemon for a completion at the cursor (what TextChangedI does, debounced).
function M.request(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = client_for(bufnr)
  if not client then
    return
  end
  M.dismiss(bufnr)
  local state = buffers[bufnr]
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.context = { triggerKind = 2 } -- Automatic
  local cursor = vim.api.nvim_win_get_cursor(0)
  state.row, state.col = cursor[1] - 1, cursor[2]
  state.tick = vim.api.nvim_buf_get_changedtick(bufnr)
  local ok, id
  ok, id = client:request(METHOD, params, function(err, result)
    if state.request ~= id then
      return -- superseded
    end
    state.request = nil
    if err or not result or vim.api.nvim_buf_get_changedtick(bufnr) ~= state.tick then
      return
    end
    local items = result.items or result
    if items[1] and vim.api.nvim_get_mode().mode:sub(1, 1) == "i" then
      show(bufnr, items[1])
    end
  end, bufnr)
  state.request = ok and id or nil
end

--- Insert the ghost text and run the item's command (the daemon counts it accepted).
--- Returns false when nothing was shown.
function M.accept(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local state = buffers[bufnr]
  local item = state and state.item
  if not item then
    return false
  end
  local client = client_for(bufnr)
  M.dismiss(bufnr)
  local encoding = client and client.offset_encoding or "utf-16"
  local here = { line = state.row, character = vim.str_utfindex(
    vim.api.nvim_buf_get_lines(bufnr, state.row, state.row + 1, false)[1] or "",
    encoding,
    state.col,
    false
  ) }
  local range = item.range or { start = here, ["end"] = here }
  local text = item_text(item)
  vim.lsp.util.apply_text_edits({ { range = range, newText = text } }, bufnr, encoding)
  local lines = vim.split(text, "\n", { plain = true })
  local start_line = vim.api.nvim_buf_get_lines(bufnr, range.start.line, range.start.line + 1, false)[1]
  local start_col = vim.str_byteindex(start_line or "", encoding, range.start.character, false)
  local row = range.start.line + #lines
  local col = #lines == 1 and start_col + #lines[1] or #lines[#lines]
  vim.api.nvim_win_set_cursor(0, { row, col })
  state.accepted = (state.accepted or 0) + 1
  if client and item.command then
    client:exec_cmd(item.command, { bufnr = bufnr })
  end
  return true
end

local function wanted(bufnr)
  local fts = M.config.filetypes
  return fts == nil or vim.tbl_contains(fts, vim.bo[bufnr].filetype)
end

local function map_keys(bufnr, accept)
  local key = M.config.accept_key
  vim.keymap.set("i", key, function()
    if not accept() then
      vim.api.nvim_feedkeys(vim.keycode(key), "n", false)
    end
  end, { buffer = bufnr, desc = "dspex: accept the inline completion" })
  vim.keymap.set("i", M.config.dismiss_key, function()
    M.dismiss(bufnr)
  end, { buffer = bufnr, desc = "dspex: dismiss the inline completion" })
end

--- Inline completion in `bufnr` from the dspex client `client_id`.
function M.attach(client_id, bufnr)
  if not M.config.enabled or not wanted(bufnr) then
    return
  end
  local state = buffer_state(bufnr)
  state.client_id = client_id
  if state.attached then
    return
  end
  state.attached = true
  if native_available() then
    vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
    map_keys(bufnr, function()
      return vim.lsp.inline_completion.get({ bufnr = bufnr })
    end)
    return
  end
  map_keys(bufnr, function()
    return M.accept(bufnr)
  end)
  state.timer = vim.uv.new_timer()
  local group = vim.api.nvim_create_augroup("dspex_inline_" .. bufnr, { clear = true })
  vim.api.nvim_create_autocmd("TextChangedI", {
    group = group,
    buffer = bufnr,
    callback = function()
      M.dismiss(bufnr)
      state.timer:stop()
      state.timer:start(M.config.debounce_ms, 0, vim.schedule_wrap(function()
        if vim.api.nvim_get_current_buf() == bufnr and vim.api.nvim_get_mode().mode:sub(1, 1) == "i" then
          M.request(bufnr)
        end
      end))
    end,
  })
  vim.api.nvim_create_autocmd("CursorMovedI", {
    group = group,
    buffer = bufnr,
    callback = function()
      local cursor = vim.api.nvim_win_get_cursor(0)
      if state.item and (cursor[1] - 1 ~= state.row or cursor[2] ~= state.col) then
        M.dismiss(bufnr)
      end
    end,
  })
  vim.api.nvim_create_autocmd({ "InsertLeave", "BufLeave" }, {
    group = group,
    buffer = bufnr,
    callback = function()
      state.timer:stop()
      M.dismiss(bufnr)
    end,
  })
end

--- What a test or a statusline may read: the ghost text shown in `bufnr`, if any.
function M.shown(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local marks = vim.api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true })
  local mark = marks[1]
  if not mark then
    return nil
  end
  local parts = { mark[4].virt_text[1][1] }
  for _, line in ipairs(mark[4].virt_lines or {}) do
    parts[#parts + 1] = line[1][1]
  end
  return { row = mark[2], col = mark[3], text = table.concat(parts, "\n") }
end

return M
