-- End-to-end check of the devassist Lua setup against a real server, run by
-- tests/e2e/test_neovim.py as:  nvim --headless -u NONE -i NONE -c 'luafile THIS'
-- Inputs (environment): DEVASSIST_E2E_CMD (JSON list: the server command), DEVASSIST_E2E_FILE
-- (a Python file), DEVASSIST_E2E_OUT (where to write the JSON results),
-- DEVASSIST_E2E_TIMEOUT_MS (per wait). Every wait polls a condition with vim.wait.
local out_path = assert(os.getenv('DEVASSIST_E2E_OUT'), 'DEVASSIST_E2E_OUT is not set')
local timeout = tonumber(os.getenv('DEVASSIST_E2E_TIMEOUT_MS') or '') or 60000
local results = { nvim_version = tostring(vim.version().major .. '.' .. vim.version().minor .. '.' .. vim.version().patch), steps = {} }

local function write_results()
  local fh = assert(io.open(out_path, 'w'))
  fh:write(vim.fn.json_encode(results))
  fh:close()
end

local function step(name, fn)
  local t0 = vim.loop.hrtime()
  local ok, err = pcall(fn)
  results.steps[#results.steps + 1] = { name = name, ok = ok, error = (not ok) and tostring(err) or nil,
    ms = math.floor((vim.loop.hrtime() - t0) / 1e6) }
  if not ok then error(name .. ': ' .. tostring(err), 0) end
end

local expected_exit -- the id of a client we stopped on purpose
local function wait_for(what, cond)
  local exited
  local done = vim.wait(timeout, function()
    exited = package.loaded.devassist and package.loaded.devassist.last_exit
    if exited and exited.client_id == expected_exit then exited = nil end
    return exited ~= nil or cond()
  end, 50)
  if exited then error(('the server exited (code %s) while waiting for %s'):format(tostring(exited.code), what), 0) end
  if not done then error('timed out waiting for ' .. what, 0) end
end

local ok, err = pcall(function()
  local devassist = require('devassist')
  local file = assert(os.getenv('DEVASSIST_E2E_FILE'), 'DEVASSIST_E2E_FILE is not set')
  local bufnr, client

  step('setup', function()
    vim.cmd('filetype on')
    devassist.setup({
      cmd = vim.fn.json_decode((assert(os.getenv('DEVASSIST_E2E_CMD'), 'DEVASSIST_E2E_CMD is not set'))),
      -- Threshold 0 flags every function, so a review diagnostic must appear.
      settings = { review = { threshold = 0, maxDiagnostics = 50 }, completion = { timeBudgetMs = 5000 } },
    })
    vim.cmd('edit ' .. vim.fn.fnameescape(file))
    bufnr = vim.api.nvim_get_current_buf()
    results.filetype = vim.bo[bufnr].filetype
  end)

  step('initialize', function()
    wait_for('the client to attach and initialize', function()
      client = devassist.client(bufnr)
      return client ~= nil and client.server_capabilities ~= nil and not devassist.is_stopped(client)
    end)
    results.capabilities = {
      completion = client.server_capabilities.completionProvider ~= nil,
      execute_commands = (client.server_capabilities.executeCommandProvider or {}).commands,
    }
    results.keymap = vim.fn.maparg('<leader>ds', 'n') ~= ''
    results.review_keymap = vim.fn.maparg('<leader>dr', 'n') ~= ''
    results.learn_keymap = vim.fn.maparg('<leader>dl', 'n') ~= ''
  end)

  step('status', function()
    wait_for('a devassist/status notification', function() return devassist.status[client.id] ~= nil end)
    results.status = devassist.status[client.id]
    results.statusline = devassist.statusline(bufnr)
  end)

  step('completion', function()
    -- DEVASSIST_E2E_COMPLETION_POS is 'LINE:CHARACTER', zero-based as on the wire (ASCII text,
    -- so characters are bytes): the cursor goes there, as if the user had just typed up to it.
    local line, character = (os.getenv('DEVASSIST_E2E_COMPLETION_POS') or '0:0'):match('^(%d+):(%d+)$')
    line, character = tonumber(line), tonumber(character)
    vim.api.nvim_win_set_cursor(0, { line + 1, character })
    local params = { textDocument = { uri = vim.uri_from_bufnr(bufnr) }, position = { line = line, character = character } }
    local responses = vim.lsp.buf_request_sync(bufnr, 'textDocument/completion', params, timeout)
    local items = {}
    for _, resp in pairs(responses or {}) do
      if resp.err then error('completion error: ' .. vim.inspect(resp.err), 0) end
      local r = resp.result or {}
      for _, item in ipairs(r.items or r) do
        local edit = item.textEdit and item.textEdit.newText
        items[#items + 1] = { label = item.label, text = edit or item.insertText or item.label }
      end
    end
    results.completion = items
  end)

  step('docstring', function()
    local commands = results.capabilities.execute_commands or {}
    if not vim.tbl_contains(commands, 'devassist.generateDocstring') then
      error('the server does not advertise devassist.generateDocstring (executeCommandProvider: '
        .. vim.inspect(commands) .. ')', 0)
    end
    local target = tonumber(os.getenv('DEVASSIST_E2E_DEF_LINE') or '1')
    results.lines_before = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
    vim.api.nvim_win_set_cursor(0, { target, 4 })
    local before = vim.api.nvim_buf_get_changedtick(bufnr)
    -- See the server's answer too, so an error fails at once instead of timing out.
    local answer
    local original = devassist.generate_docstring
    devassist.generate_docstring = function(b) original(b, function(err, result) answer = { err = err, result = result } end) end
    -- Through the user's key map, as a person would press it.
    vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes('<leader>ds', true, false, true), 'x', false)
    wait_for('the docstring edit', function()
      return vim.api.nvim_buf_get_changedtick(bufnr) ~= before or (answer ~= nil and answer.err ~= nil)
    end)
    devassist.generate_docstring = original
    if answer and answer.err then error('devassist.generateDocstring failed: ' .. vim.inspect(answer.err), 0) end
    results.lines_after = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
  end)

  step('diagnostics', function()
    if os.getenv('DEVASSIST_E2E_NO_REVIEW') == '1' then -- the bundle cannot review: nothing to wait for
      results.diagnostics_skipped = true
      return
    end
    local function ours()
      local found = {}
      for _, d in ipairs(vim.diagnostic.get(bufnr)) do
        if d.source == 'devassist' then found[#found + 1] = { lnum = d.lnum, message = d.message, severity = d.severity } end
      end
      return found
    end
    wait_for('a devassist review diagnostic', function() return #ours() > 0 end)
    results.diagnostics = ours()
  end)

  step('review_command', function()
    if os.getenv('DEVASSIST_E2E_NO_REVIEW') == '1' then return end
    local answer
    devassist.review(bufnr, function(err, result) answer = { err = err, result = result } end)
    wait_for('the answer to :DevassistReview', function() return answer ~= nil end)
    if answer.err then error('textDocument/diagnostic failed: ' .. vim.inspect(answer.err), 0) end
    results.review_items = #((answer.result or {}).items or {})
    results.loclist = vim.tbl_map(function(item) return { lnum = item.lnum, text = item.text } end, vim.fn.getloclist(0))
    results.diagnostics_after_review = vim.tbl_map(function(d) return { lnum = d.lnum, message = d.message } end,
      vim.diagnostic.get(bufnr))
  end)

  step('restart', function()
    local old_id = client.id
    expected_exit = old_id
    vim.cmd('DevassistRestart')
    wait_for('a new client after :DevassistRestart', function()
      local c = devassist.client(bufnr)
      return c ~= nil and c.id ~= old_id and c.server_capabilities ~= nil
    end)
    results.restarted = true
  end)
end)

results.ok = ok
results.error = (not ok) and tostring(err) or nil
pcall(function()
  local devassist = require('devassist')
  for _, c in ipairs(devassist.clients()) do devassist.stop(c) end
  vim.wait(5000, function() return #devassist.clients() == 0 end, 50)
end)
write_results()
vim.cmd('qall!')
