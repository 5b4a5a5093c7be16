-- What a person sees while typing, in headless Neovim, run by tests/e2e/test_neovim.py as:
--   nvim --headless -u NONE -i NONE -c 'luafile THIS'
-- Keys go through nvim_input, so Neovim's own main loop handles them as typed keys (Insert mode,
-- TextChangedI, mappings); this script runs as a coroutine resumed by a timer and only waits on
-- conditions. Inputs (environment): DEVASSIST_E2E_CMD (JSON list), DEVASSIST_E2E_FILE,
-- DEVASSIST_E2E_OUT (JSON results), DEVASSIST_E2E_TIMEOUT_MS (per wait), DEVASSIST_E2E_LINE
-- (1-based line to open a new line below), DEVASSIST_E2E_TYPED (the half-typed word; the
-- indent comes from 'autoindent'),
-- DEVASSIST_E2E_ENGINE ('auto' or 'extmark').
local api = vim.api
local out_path = assert(os.getenv('DEVASSIST_E2E_OUT'), 'DEVASSIST_E2E_OUT is not set')
local timeout = tonumber(os.getenv('DEVASSIST_E2E_TIMEOUT_MS') or '') or 60000
local v = vim.version()
local results = { nvim_version = ('%d.%d.%d'):format(v.major, v.minor, v.patch), steps = {} }

local function now_ms() return vim.loop.hrtime() / 1e6 end

local function wait_for(what, cond)
  local deadline = now_ms() + timeout
  while true do
    local exited = package.loaded.devassist and package.loaded.devassist.last_exit
    if exited then error(('the server exited (code %s) while waiting for %s'):format(tostring(exited.code), what), 0) end
    if cond() then return end
    if now_ms() > deadline then
      error(('timed out waiting for %s (mode %s, line %q)'):format(what, api.nvim_get_mode().mode,
        api.nvim_get_current_line()), 0)
    end
    coroutine.yield()
  end
end

local function step(name, fn)
  local t0 = now_ms()
  local ok, err = pcall(fn)
  results.steps[#results.steps + 1] = { name = name, ok = ok, error = (not ok) and tostring(err) or nil,
    ms = math.floor(now_ms() - t0) }
  if not ok then error(name .. ': ' .. tostring(err), 0) end
end

local function type_keys(keys) api.nvim_input(keys) end

--- Whether the current line ends with `typed` at the cursor ('autoindent' supplies the indent).
local function typed_in_line(typed)
  local line = api.nvim_get_current_line()
  return line:sub(-#typed) == typed and api.nvim_win_get_cursor(0)[2] == #line
end

--- Ghost text on screen in `bufnr`: { row, col, text } from our extmarks or Neovim 0.12's, or nil.
local function ghost(bufnr)
  local namespaces = { require('devassist.ghost').namespace, api.nvim_get_namespaces()['nvim.lsp.inline_completion'] }
  for _, ns in ipairs(namespaces) do
    for _, mark in ipairs(api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true })) do
      local details = mark[4]
      if details.virt_text then
        local parts = {}
        for _, chunk in ipairs(details.virt_text) do parts[#parts + 1] = chunk[1] end
        local lines = { table.concat(parts) }
        for _, vline in ipairs(details.virt_lines or {}) do
          local chunks = {}
          for _, chunk in ipairs(vline) do chunks[#chunks + 1] = chunk[1] end
          lines[#lines + 1] = table.concat(chunks)
        end
        return { row = mark[2], col = mark[3], text = table.concat(lines, '\n'), pos = details.virt_text_pos }
      end
    end
  end
  return nil
end

local function run()
  local devassist = require('devassist')
  local file = assert(os.getenv('DEVASSIST_E2E_FILE'), 'DEVASSIST_E2E_FILE is not set')
  local line = tonumber(os.getenv('DEVASSIST_E2E_LINE') or '1')
  local typed = os.getenv('DEVASSIST_E2E_TYPED') or ''
  local bufnr, client

  step('setup', function()
    vim.cmd('filetype on')
    devassist.setup({
      cmd = vim.fn.json_decode((assert(os.getenv('DEVASSIST_E2E_CMD'), 'DEVASSIST_E2E_CMD is not set'))),
      ghost_text = { engine = os.getenv('DEVASSIST_E2E_ENGINE') or 'auto' },
      -- Review stays on (its defaults), as for a person; a loaded machine gets a longer budget.
      settings = { completion = { timeBudgetMs = 2000 } },
    })
    vim.cmd('edit ' .. vim.fn.fnameescape(file))
    bufnr = api.nvim_get_current_buf()
    wait_for('the client to initialize', function()
      client = devassist.client(bufnr)
      return client ~= nil and client.server_capabilities ~= nil
    end)
    wait_for('the server to be ready', function()
      local s = devassist.status[client.id]
      return s ~= nil and s.state == 'ready'
    end)
    results.engine = devassist.ghost_engine
    results.completeopt = vim.fn.has('nvim-0.11') == 1 and vim.bo[bufnr].completeopt or vim.o.completeopt
  end)

  step('ghost_text', function()
    api.nvim_win_set_cursor(0, { line, 0 })
    results.lines_before = api.nvim_buf_get_lines(bufnr, 0, -1, false)
    type_keys('o' .. typed)
    wait_for('the typed text', function() return typed_in_line(typed) end)
    local typed_at = now_ms()
    local g
    wait_for('ghost text after the half-typed word', function() g = ghost(bufnr); return g ~= nil end)
    results.ghost_ms = math.floor(now_ms() - typed_at)
    local cursor = api.nvim_win_get_cursor(0)
    results.ghost = g
    results.cursor_at_ghost = { cursor[1] - 1, cursor[2] }
    results.mode_at_ghost = api.nvim_get_mode().mode
    results.lines_at_ghost = api.nvim_buf_get_lines(bufnr, 0, -1, false)
    local tick = api.nvim_buf_get_changedtick(bufnr)
    type_keys('<Tab>')
    wait_for('the accepted suggestion in the buffer', function() return api.nvim_buf_get_changedtick(bufnr) ~= tick end)
    results.lines_accepted = api.nvim_buf_get_lines(bufnr, 0, -1, false)
    local after = api.nvim_win_get_cursor(0)
    results.cursor_after_accept = { after[1] - 1, after[2] }
    type_keys('<Esc>')
    wait_for('Normal mode', function() return api.nvim_get_mode().mode == 'n' end)
    wait_for('no ghost text after leaving Insert mode', function() return ghost(bufnr) == nil end)
  end)

  step('accept_word', function()
    api.nvim_win_set_cursor(0, { line, 0 })
    type_keys('o' .. typed)
    wait_for('the typed text', function() return typed_in_line(typed) end)
    wait_for('ghost text to accept a word of', function() return ghost(bufnr) ~= nil end)
    results.word_ghost = ghost(bufnr)
    results.word_typed_line = api.nvim_get_current_line()
    local tick = api.nvim_buf_get_changedtick(bufnr)
    type_keys('<C-Right>')
    wait_for('the accepted word', function() return api.nvim_buf_get_changedtick(bufnr) ~= tick end)
    results.line_after_word = api.nvim_get_current_line()
    results.ghost_after_word = ghost(bufnr) or vim.NIL
    type_keys('<Esc>')
    wait_for('Normal mode', function() return api.nvim_get_mode().mode == 'n' end)
  end)

  step('completion_list', function()
    -- The list (omnifunc) with one item: the buffer keeps what was typed until a choice is made.
    api.nvim_win_set_cursor(0, { line, 0 })
    type_keys('o' .. typed)
    wait_for('the typed text', function() return typed_in_line(typed) end)
    -- The server answers one completion per document at a time, the newest winning: open the
    -- list once the ghost text's request is answered, as a person reading it would.
    wait_for('ghost text on the new line', function() return ghost(bufnr) ~= nil end)
    type_keys('<C-x><C-o>')
    wait_for('the completion menu', function() return vim.fn.pumvisible() == 1 end)
    results.list_items = vim.fn.complete_info({ 'items' }).items
    results.line_with_menu = api.nvim_get_current_line()
    type_keys('<C-e><Esc>')
    wait_for('Normal mode', function() return api.nvim_get_mode().mode == 'n' end)
  end)
end

local function finish(ok, err)
  results.ok = ok
  results.error = (not ok) and tostring(err) or nil
  local fh = assert(io.open(out_path, 'w'))
  fh:write(vim.fn.json_encode(results))
  fh:close()
  local devassist = package.loaded.devassist
  for _, c in ipairs(devassist and devassist.clients() or {}) do devassist.stop(c) end
  vim.cmd('qall!')
end

local co = coroutine.create(function() return pcall(run) end)
local ticker = vim.loop.new_timer()
ticker:start(0, 20, vim.schedule_wrap(function()
  if coroutine.status(co) == 'dead' then return end
  local resumed, ok, err = coroutine.resume(co)
  if not resumed then ok, err = false, ok end
  if coroutine.status(co) == 'dead' then
    ticker:stop()
    finish(ok, err)
  end
end))
