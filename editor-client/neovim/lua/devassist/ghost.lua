--- Ghost text for devassist: the server's `textDocument/inlineCompletion` shown after the cursor.
---
--- Neovim 0.12+ has `vim.lsp.inline_completion`, which this module enables. Older versions
--- (0.7-0.11) get an extmark implementation here: a request on TextChangedI after a debounce (the
--- previous request is cancelled), the suggestion as virtual text (inline on 0.10+, overlaid at the
--- end of the line before that), accept / accept-word / dismiss keys, and dismissal when the
--- cursor moves or Insert mode ends.
local M = {}

local api = vim.api
M.namespace = api.nvim_create_namespace('devassist_ghost_text')
M.native_namespace = 'nvim.lsp.inline_completion' -- the namespace 0.12's implementation draws in
local HIGHLIGHT = 'DevassistGhostText'
local has_inline_virt_text = vim.fn.has('nvim-0.10') == 1
local has_new_byteindex = vim.fn.has('nvim-0.11') == 1
local has_client_methods = has_new_byteindex -- 0.11 made client methods (`client:request`)

--- Per-buffer state of the extmark implementation.
--- { client, timer, request_id, shown = { row, col, text, end_col, tick } }
local state = {}

--- Whether `engine` ('auto', 'native', 'extmark') resolves to Neovim's own implementation.
function M.uses_native(engine)
  if engine == 'extmark' then return false end
  return vim.lsp.inline_completion ~= nil
end

local function cancel_request(s)
  if s.request_id and s.client then
    local client, id = s.client, s.request_id
    -- The request may have finished already; cancelling it then is harmless but may raise.
    pcall(function()
      if has_client_methods then client:cancel_request(id) else client.cancel_request(id) end
    end)
  end
  s.request_id = nil
end

local function stop_timer(s)
  if s.timer then
    s.timer:stop()
    if not s.timer:is_closing() then s.timer:close() end
    s.timer = nil
  end
end

--- Remove the ghost text of `bufnr` (and forget it).
function M.dismiss(bufnr)
  local s = state[bufnr]
  if not s then return end
  s.shown = nil
  if api.nvim_buf_is_valid(bufnr) then api.nvim_buf_clear_namespace(bufnr, M.namespace, 0, -1) end
end

--- The suggestion now on screen in `bufnr`: { row, col, text } (0-based row, byte col), or nil.
function M.current(bufnr)
  local s = state[bufnr]
  return s and s.shown and { row = s.shown.row, col = s.shown.col, text = s.shown.text } or nil
end

--- Byte index in `line` of an LSP `character` counted in `encoding`.
local function byte_col(line, character, encoding)
  if encoding == 'utf-8' then return math.min(character, #line) end
  local ok, col
  if has_new_byteindex then
    ok, col = pcall(vim.str_byteindex, line, encoding, character, false)
  else
    ok, col = pcall(vim.str_byteindex, line, character, encoding == 'utf-16')
  end
  return ok and col or #line
end

local function cursor_pos()
  local cursor = api.nvim_win_get_cursor(0)
  return cursor[1] - 1, cursor[2]
end

--- The text to show for `item` typed up to (row, col), or nil: the part of insertText after what
--- is already typed when the item's range starts before the cursor.
local function visible_text(bufnr, item, row, col, encoding)
  local text = item.insertText
  if type(text) == 'table' then text = text.value end -- a snippet: shown as its plain text
  if type(text) ~= 'string' then return nil end
  local end_col = col
  if item.range then
    if item.range.start.line ~= row or item.range['end'].line ~= row then return nil end
    local line = api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
    local start_col = byte_col(line, item.range.start.character, encoding)
    end_col = math.max(col, byte_col(line, item.range['end'].character, encoding))
    if start_col > col then return nil end
    local typed = line:sub(start_col + 1, col)
    if text:sub(1, #typed) ~= typed then return nil end -- the item does not continue what is typed
    text = text:sub(#typed + 1)
  end
  if text:match('^%s*$') then return nil end
  return text, end_col
end

local function render(bufnr, shown)
  api.nvim_buf_clear_namespace(bufnr, M.namespace, 0, -1)
  local lines = vim.split(shown.text, '\n', { plain = true })
  local line = api.nvim_buf_get_lines(bufnr, shown.row, shown.row + 1, false)[1] or ''
  local opts = { hl_mode = 'combine' }
  if has_inline_virt_text then
    opts.virt_text_pos = 'inline'
  elseif line:sub(shown.col + 1):match('^%s*$') then
    opts.virt_text_pos = 'overlay' -- nothing after the cursor that it could hide
  else
    return false -- before 0.10 there is no inline virtual text: mid-line suggestions are not drawn
  end
  opts.virt_text = { { lines[1], HIGHLIGHT } }
  if #lines > 1 then
    opts.virt_lines = {}
    for i = 2, #lines do opts.virt_lines[#opts.virt_lines + 1] = { { lines[i], HIGHLIGHT } } end
  end
  api.nvim_buf_set_extmark(bufnr, M.namespace, shown.row, shown.col, opts)
  return true
end

local function on_response(bufnr, s, row, col, tick, err, result, encoding)
  s.request_id = nil
  if err or not result or not api.nvim_buf_is_valid(bufnr) then return end
  -- Typing went on while the model worked: this answer belongs to text that is gone.
  if api.nvim_buf_get_changedtick(bufnr) ~= tick or api.nvim_get_current_buf() ~= bufnr then return end
  if not api.nvim_get_mode().mode:match('^i') then return end
  local now_row, now_col = cursor_pos()
  if now_row ~= row or now_col ~= col then return end
  for _, item in ipairs(result.items or result) do
    local text, end_col = visible_text(bufnr, item, row, col, encoding)
    if text then
      local shown = { row = row, col = col, text = text, end_col = end_col, tick = tick }
      if render(bufnr, shown) then s.shown = shown end
      return
    end
  end
end

--- Ask the server for a suggestion at the cursor of `bufnr` now (the debounce has passed).
function M.request(bufnr)
  local s = state[bufnr]
  if not s or not api.nvim_buf_is_valid(bufnr) or api.nvim_get_current_buf() ~= bufnr then return end
  cancel_request(s)
  -- The completion list is being asked for or shown: a ghost request now would replace its answer.
  if vim.fn.pumvisible() == 1 or api.nvim_get_mode().mode == 'ic' then return end
  local client = s.client
  local row, col = cursor_pos()
  local tick = api.nvim_buf_get_changedtick(bufnr)
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.context = { triggerKind = 2 } -- InlineCompletionTriggerKind.Automatic
  local devassist = require('devassist')
  local ok, id = devassist.request(client, 'textDocument/inlineCompletion', params, function(err, result)
    on_response(bufnr, s, row, col, tick, err, result, client.offset_encoding)
  end, bufnr)
  s.request_id = ok and id or nil
end

local function schedule_request(bufnr, delay_ms)
  local s = state[bufnr]
  if not s then return end
  stop_timer(s)
  cancel_request(s)
  s.timer = vim.loop.new_timer()
  s.timer:start(delay_ms, 0, vim.schedule_wrap(function()
    stop_timer(s)
    M.request(bufnr)
  end))
end

--- The start of `text` that accept-word takes: the next word with the spaces before it, else the
--- next run of punctuation (`' = np.asarray'` -> `' ='`, then `' np'`).
local function next_word(text)
  return text:match('^%s*[%w_]+') or text:match('^%s*[^%w_%s]+') or text:match('^%s+') or text
end

--- Insert the shown suggestion (all of it, or its first word when `word`); false if none is shown.
function M.accept(bufnr, word)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  local s = state[bufnr]
  local shown = s and s.shown
  if not shown then return false end
  local row, col = cursor_pos()
  if row ~= shown.row or col ~= shown.col then
    M.dismiss(bufnr)
    return false
  end
  local text = shown.text
  if word then text = next_word(text) end
  local rest = shown.text:sub(#text + 1)
  local lines = vim.split(text, '\n', { plain = true })
  M.dismiss(bufnr)
  api.nvim_buf_set_text(bufnr, row, col, row, rest == '' and shown.end_col or col, lines)
  local new_row = row + #lines - 1
  local new_col = (#lines == 1 and col or 0) + #lines[#lines]
  api.nvim_win_set_cursor(0, { new_row + 1, new_col })
  if rest ~= '' then
    -- Keep showing the remainder; the TextChangedI of this edit must not throw it away.
    local kept = { row = new_row, col = new_col, text = rest, end_col = new_col + (shown.end_col - col),
                   tick = api.nvim_buf_get_changedtick(bufnr) }
    if render(bufnr, kept) then s.shown = kept end
  end
  return true
end

local function map_with_fallback(bufnr, key, action, desc)
  if not key then return end
  vim.keymap.set('i', key, function()
    if not action() then
      api.nvim_feedkeys(api.nvim_replace_termcodes(key, true, false, true), 'n', false)
    end
  end, { buffer = bufnr, desc = desc })
end

local function attach_native(bufnr, keys)
  vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
  map_with_fallback(bufnr, keys.accept, function() return vim.lsp.inline_completion.get({ bufnr = bufnr }) end,
    'devassist: accept the suggestion')
  map_with_fallback(bufnr, keys.accept_word, function()
    return vim.lsp.inline_completion.get({ bufnr = bufnr, on_accept = function(item)
      local text = type(item.insert_text) == 'string' and item.insert_text or item.insert_text.value
      local row, col = cursor_pos()
      if item.range then -- drop what is already typed from the range's start to the cursor
        local start = item.range.start:to_extmark()
        if start[1] == row and start[2] <= col then text = text:sub(col - start[2] + 1) end
      end
      text = next_word(text)
      local lines = vim.split(text, '\n', { plain = true })
      api.nvim_buf_set_text(bufnr, row, col, row, col, lines)
      api.nvim_win_set_cursor(0, { row + #lines, (#lines == 1 and col or 0) + #lines[#lines] })
    end })
  end, 'devassist: accept the next word of the suggestion')
  if keys.dismiss then
    vim.keymap.set('i', keys.dismiss, function()
      api.nvim_buf_clear_namespace(bufnr, api.nvim_create_namespace(M.native_namespace), 0, -1)
    end, { buffer = bufnr, desc = 'devassist: dismiss the suggestion' })
  end
end

local function attach_extmark(client, bufnr, opts, keys)
  if state[bufnr] then
    state[bufnr].client = client
    return
  end
  local s = { client = client }
  state[bufnr] = s
  local group = api.nvim_create_augroup('devassist_ghost_' .. bufnr, { clear = true })
  api.nvim_create_autocmd('TextChangedI', { group = group, buffer = bufnr, callback = function()
    if s.shown and s.shown.tick == api.nvim_buf_get_changedtick(bufnr) then return end -- our own accept-word
    M.dismiss(bufnr)
    schedule_request(bufnr, opts.debounce_ms)
  end })
  api.nvim_create_autocmd('CursorMovedI', { group = group, buffer = bufnr, callback = function()
    local row, col = cursor_pos()
    if s.shown and (row ~= s.shown.row or col ~= s.shown.col) then M.dismiss(bufnr) end
  end })
  api.nvim_create_autocmd({ 'InsertLeave', 'BufLeave' }, { group = group, buffer = bufnr, callback = function()
    stop_timer(s)
    cancel_request(s)
    M.dismiss(bufnr)
  end })
  api.nvim_create_autocmd('BufWipeout', { group = group, buffer = bufnr, callback = function()
    stop_timer(s)
    state[bufnr] = nil
  end })
  map_with_fallback(bufnr, keys.accept, function() return M.accept(bufnr, false) end,
    'devassist: accept the suggestion')
  map_with_fallback(bufnr, keys.accept_word, function() return M.accept(bufnr, true) end,
    'devassist: accept the next word of the suggestion')
  map_with_fallback(bufnr, keys.dismiss, function()
    local shown = state[bufnr] and state[bufnr].shown
    M.dismiss(bufnr)
    return shown ~= nil
  end, 'devassist: dismiss the suggestion')
end

--- Turn ghost text on for `bufnr` served by `client`; `opts` is the `ghost_text` config table.
--- Returns the engine used: 'native' or 'extmark' (or nil when disabled / not offered by the server).
function M.attach(client, bufnr, opts)
  if not opts or opts.enabled == false then return nil end
  if not (client.server_capabilities or {}).inlineCompletionProvider then return nil end
  vim.cmd('highlight default link ' .. HIGHLIGHT .. ' Comment')
  local keys = opts.keymaps or {}
  if M.uses_native(opts.engine) then
    attach_native(bufnr, keys)
    return 'native'
  end
  attach_extmark(client, bufnr, opts, keys)
  return 'extmark'
end

return M
