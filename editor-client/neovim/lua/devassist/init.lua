--- devassist for Neovim: starts `devassist serve` for Python buffers over stdio.
---
--- Works on Neovim 0.7 (vim.lsp.start_client + vim.lsp.buf_attach_client) and 0.8+ (vim.lsp.start).
--- Ghost text (the server's inline completion) is on by default: Neovim's own on 0.12+, this
--- plugin's extmarks before (lua/devassist/ghost.lua).
---   require('devassist').setup({ bundle = '~/models/default', keymaps = { docstring = '<leader>ds' } })
local M = {}

local NAME = 'devassist'

--- Defaults; `setup(opts)` merges over them. `settings` is the server's `devassist` tree.
M.defaults = {
  cmd = nil, -- the server command; nil: {'devassist', 'serve'} (plus --bundle), or python -m devassist.server
  python = nil, -- a Python with devassist installed: runs `python -m devassist.server serve`
  bundle = nil, -- model bundle folder, passed as --bundle
  filetypes = { 'python' },
  root_markers = { 'pyproject.toml', 'setup.py', 'setup.cfg', '.git' },
  -- Normal-mode keys; false or nil disables a mapping.
  keymaps = { docstring = '<leader>ds', review = '<leader>dr', learn_workspace = '<leader>dl' },
  ghost_text = {
    enabled = true,
    engine = 'auto', -- 'auto': Neovim's vim.lsp.inline_completion on 0.12+, else 'extmark' (ours)
    debounce_ms = 150, -- wait this long after the last keystroke before asking (extmark engine)
    -- Insert-mode keys; each falls back to the key's usual meaning when no suggestion is shown.
    keymaps = { accept = '<Tab>', accept_word = '<C-Right>', dismiss = '<C-]>' },
  },
  omnifunc = true, -- <C-x><C-o> asks the server (0.7 has no automatic completion popup)
  -- Added to 'completeopt' so the list never inserts its only item by itself.
  completeopt = { 'menuone', 'noinsert' },
  settings = {
    completion = { enabled = true, maxTokens = 48, timeBudgetMs = 300, multiline = true },
    docstring = { style = 'google' },
    review = { enabled = true, threshold = 99, severity = 'information', maxDiagnostics = 10 },
  },
  on_attach = nil, -- function(client, bufnr), called after ours
}

M.config = vim.deepcopy(M.defaults)
--- The last `devassist/status` from each client: { state = 'ready', model = '...', message = '...' }.
M.status = {}
local clients_by_root = {} -- 0.7 only: root_dir -> client id, so one server serves a project

-- Client API across versions: 0.11 made client methods (`client:request`), 0.10 renamed
-- get_active_clients to get_clients, 0.7 has only buf_get_clients for one buffer.
local has_methods = vim.fn.has('nvim-0.11') == 1

--- `client:request(...)` on 0.11+, `client.request(...)` before.
function M.request(client, method, params, handler, bufnr)
  if has_methods then return client:request(method, params, handler, bufnr) end
  return client.request(method, params, handler, bufnr)
end

--- Stop a client.
function M.stop(client)
  if has_methods then return client:stop() end
  return client.stop()
end

--- Whether a client has stopped.
function M.is_stopped(client)
  if has_methods then return client:is_stopped() end
  return client.is_stopped()
end

--- Every running devassist client, or those attached to `bufnr`.
function M.clients(bufnr)
  local found = {}
  local all
  if vim.lsp.get_clients then
    all = vim.lsp.get_clients({ bufnr = bufnr })
  elseif bufnr then
    all = vim.lsp.buf_get_clients(bufnr)
  else
    all = vim.lsp.get_active_clients()
  end
  for _, client in pairs(all) do
    if client.name == NAME then found[#found + 1] = client end
  end
  return found
end

--- The command that starts the server for `config`.
function M.command(config)
  config = config or M.config
  local cmd
  if config.cmd then
    cmd = type(config.cmd) == 'string' and { config.cmd } or vim.deepcopy(config.cmd)
  elseif config.python then
    cmd = { vim.fn.expand(config.python), '-m', 'devassist.server', 'serve' }
  elseif vim.fn.executable('devassist') == 1 then
    cmd = { 'devassist', 'serve' }
  else
    cmd = { vim.fn.executable('python3') == 1 and 'python3' or 'python', '-m', 'devassist.server', 'serve' }
  end
  if config.bundle and config.bundle ~= '' then
    vim.list_extend(cmd, { '--bundle', vim.fn.expand(config.bundle) })
  end
  return cmd
end

local function find_root(bufnr)
  local path = vim.api.nvim_buf_get_name(bufnr)
  local dir = path ~= '' and vim.fn.fnamemodify(path, ':p:h') or vim.fn.getcwd()
  for _, marker in ipairs(M.config.root_markers) do
    local hit = vim.fn.finddir(marker, dir .. ';')
    if hit == '' then hit = vim.fn.findfile(marker, dir .. ';') end
    if hit ~= '' then
      local full = vim.fn.fnamemodify(hit, ':p'):gsub('/$', '')
      return vim.fn.fnamemodify(full, ':h')
    end
  end
  return dir
end

--- The devassist client attached to `bufnr`, or nil.
function M.client(bufnr)
  if bufnr == nil or bufnr == 0 then bufnr = vim.api.nvim_get_current_buf() end
  return M.clients(bufnr)[1]
end

local function on_status(_, params, ctx)
  if type(params) ~= 'table' then return end
  M.status[ctx.client_id] = params
  if params.state == 'error' and params.message then
    vim.notify('devassist: ' .. params.message, vim.log.levels.ERROR)
  end
  pcall(vim.api.nvim_exec_autocmds, 'User', { pattern = 'DevassistStatus', modeline = false })
end

--- Make the completion list wait for a choice: with 'menuone' a single item still shows a menu,
--- with 'noinsert' nothing enters the buffer until it is selected.
local function keep_list_from_inserting(bufnr)
  local wanted = M.config.completeopt
  if not wanted or #wanted == 0 then return end
  -- 0.11 made 'completeopt' buffer-local capable; before, only the global value exists.
  local current = vim.fn.has('nvim-0.11') == 1 and vim.bo[bufnr].completeopt or vim.o.completeopt
  if current == '' then current = vim.o.completeopt end
  local items = vim.split(current, ',', { plain = true, trimempty = true })
  for _, flag in ipairs(wanted) do
    if not vim.tbl_contains(items, flag) then items[#items + 1] = flag end
  end
  if vim.fn.has('nvim-0.11') == 1 then
    vim.bo[bufnr].completeopt = table.concat(items, ',')
  else
    vim.o.completeopt = table.concat(items, ',')
  end
end

--- Tell the server which lines of `bufnr` are on screen: review scores their functions first.
local function send_visible_range(client, bufnr)
  local win = vim.fn.bufwinid(bufnr)
  if win == -1 or M.is_stopped(client) then return end
  local first, last = vim.fn.line('w0', win) - 1, vim.fn.line('w$', win) - 1
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    ranges = { { start = { line = first, character = 0 }, ['end'] = { line = last, character = 0 } } },
  }
  if has_methods then client:notify('devassist/visibleRanges', params) else client.notify('devassist/visibleRanges', params) end
end

local function on_attach(client, bufnr)
  local group = vim.api.nvim_create_augroup('devassist_visible_' .. bufnr, { clear = true })
  vim.api.nvim_create_autocmd({ 'BufWinEnter', 'WinScrolled' }, {
    group = group, buffer = bufnr, callback = function() send_visible_range(client, bufnr) end,
  })
  send_visible_range(client, bufnr)
  if M.config.omnifunc then
    vim.bo[bufnr].omnifunc = 'v:lua.vim.lsp.omnifunc'
    keep_list_from_inserting(bufnr)
  end
  local actions = {
    docstring = { function() M.generate_docstring(bufnr) end, 'devassist: generate docstring' },
    review = { function() M.review(bufnr) end, 'devassist: review this file (location list)' },
    learn_workspace = { function() M.learn_workspace(bufnr) end, 'devassist: learn this workspace' },
  }
  for name, action in pairs(actions) do
    local key = M.config.keymaps and M.config.keymaps[name]
    if key then vim.keymap.set('n', key, action[1], { buffer = bufnr, desc = action[2] }) end
  end
  M.ghost_engine = require('devassist.ghost').attach(client, bufnr, M.config.ghost_text)
  if M.config.on_attach then M.config.on_attach(client, bufnr) end
end

local function on_exit(code, signal, client_id)
  M.last_exit = { code = code, signal = signal, client_id = client_id }
  if code ~= 0 then
    vim.schedule(function()
      vim.notify(('devassist: the server exited with code %d. Check that `%s` runs (see :lua print(vim.lsp.get_log_path())); '
        .. 'install it with pip install "devassist[cpu]" or set `python`/`cmd`/`bundle` in require("devassist").setup().')
        :format(code, table.concat(M.command(), ' ')), vim.log.levels.ERROR)
    end)
  end
  M.status[client_id] = nil
  for root, id in pairs(clients_by_root) do
    if id == client_id then clients_by_root[root] = nil end
  end
end

--- The client configuration for a buffer (also usable with lspconfig-style setups).
function M.client_config(bufnr)
  local settings = vim.deepcopy(M.config.settings)
  return {
    name = NAME,
    cmd = M.command(),
    root_dir = find_root(bufnr or 0),
    init_options = settings,
    settings = { devassist = settings }, -- answers workspace/configuration for section "devassist"
    handlers = { ['devassist/status'] = on_status },
    on_attach = on_attach,
    on_exit = on_exit,
  }
end

--- Start (or reuse) the server for `bufnr` and attach it; returns the client id.
function M.start(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local config = M.client_config(bufnr)
  if vim.lsp.start then -- 0.8+: reuses a client with the same name and root_dir
    return vim.lsp.start(config, { bufnr = bufnr })
  end
  local id = clients_by_root[config.root_dir]
  local client = id and vim.lsp.get_client_by_id(id)
  if not client or M.is_stopped(client) then
    id = vim.lsp.start_client(config)
    if not id then return nil end
    clients_by_root[config.root_dir] = id
  end
  vim.lsp.buf_attach_client(bufnr, id)
  return id
end

--- The real buffer number for `bufnr` (nil/0: the current one) and the client to ask, or nil
--- after telling the user why; `any_client`: a client of another buffer will do.
local function buffer_and_client(bufnr, any_client)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local client = M.client(bufnr) or (any_client and M.clients()[1]) or nil
  if not client then
    vim.notify(any_client and 'devassist: start the server first (open a Python file)'
      or 'devassist: no server attached to this buffer', vim.log.levels.WARN)
  end
  return bufnr, client
end

--- Ask the server for a docstring for the function at the cursor; it edits the buffer itself.
--- `on_done(err, result)`, if given, is called with the server's answer.
function M.generate_docstring(bufnr, on_done)
  local client
  bufnr, client = buffer_and_client(bufnr, false)
  if not client then return end
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  M.request(client, 'workspace/executeCommand', {
    command = 'devassist.generateDocstring',
    arguments = { params.textDocument.uri, params.position },
  }, function(err, result)
    if err then vim.notify('devassist: docstring failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR) end
    if on_done then on_done(err, result) end
  end, bufnr)
end

--- Review the file: pull the server's review diagnostics now and list them in the location list.
--- `on_done(err, items)`, if given, is called with the server's answer.
function M.review(bufnr, on_done)
  local client
  bufnr, client = buffer_and_client(bufnr, false)
  if not client then return end
  if not client.server_capabilities.diagnosticProvider then
    vim.notify('devassist: this server bundle has no review model', vim.log.levels.WARN)
    return
  end
  M.request(client, 'textDocument/diagnostic', { textDocument = { uri = vim.uri_from_bufnr(bufnr) } },
    function(err, result)
      if err then
        vim.notify('devassist: review failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
      else
        local items = (result and result.items) or {}
        -- The findings go to the location list only: the LSP client shows the same diagnostics
        -- (pushed, or pulled on 0.10+), and a namespace of our own showed each one twice.
        local types = { 'E', 'W', 'I', 'N' }  -- LSP severities 1-4
        vim.fn.setloclist(0, {}, ' ', { title = 'devassist review', items = vim.tbl_map(function(d)
          return { bufnr = bufnr, lnum = d.range.start.line + 1, col = d.range.start.character + 1,
                   end_lnum = d.range['end'].line + 1, end_col = d.range['end'].character + 1,
                   text = d.message, type = types[d.severity or 3] }
        end, items) })
        if #items > 0 then vim.cmd('lopen') end
        vim.notify(('devassist: %d review finding%s'):format(#items, #items == 1 and '' or 's'))
      end
      if on_done then on_done(err, result) end
    end, bufnr)
end

--- Ask the server to learn the workspace (`devassist.learnWorkspace` on the root folder).
function M.learn_workspace(bufnr)
  local client
  bufnr, client = buffer_and_client(bufnr, true)
  if not client then return end
  local commands = (client.server_capabilities.executeCommandProvider or {}).commands or {}
  if not vim.tbl_contains(commands, 'devassist.learnWorkspace') then
    vim.notify('devassist: this server cannot learn a workspace yet (no devassist.learnWorkspace command)',
      vim.log.levels.WARN)
    return
  end
  local root = client.config.root_dir or vim.fn.getcwd()
  M.request(client, 'workspace/executeCommand', {
    command = 'devassist.learnWorkspace', arguments = { vim.uri_from_fname(root) },
  }, function(err, result)
    if err then
      vim.notify('devassist: learning the workspace failed: ' .. (err.message or ''), vim.log.levels.ERROR)
    elseif type(result) == 'string' then
      vim.notify('devassist: ' .. result)
    end -- a table ({ok, adopted, message}): the server has shown its message already (window/showMessage)
  end, bufnr)
end

--- Write `rows` synthetic rows learnt from the current CSV/JSON file (the server does the work).
function M.synthesize(rows, bufnr)
  local client
  bufnr, client = buffer_and_client(bufnr, true)
  if not client then return end
  M.request(client, 'workspace/executeCommand', {
    command = 'devassist.synthesizeTestData',
    arguments = { vim.uri_from_bufnr(bufnr), tonumber(rows) or 100 },
  }, function(err, result)
    if err then
      vim.notify('devassist: synthesis failed: ' .. (err.message or ''), vim.log.levels.ERROR)
    else
      vim.notify('devassist: wrote ' .. vim.inspect(result))
    end
  end, bufnr)
end

--- A short text for a statusline: `devassist: ready (model)`.
function M.statusline(bufnr)
  local client = M.client(bufnr or 0)
  local s = client and M.status[client.id]
  if not client then return '' end
  if not s then return 'devassist: starting' end
  local text = ('devassist: %s%s'):format(s.state, s.model and s.model ~= '' and (' (' .. s.model .. ')') or '')
  -- The server's own words when it has some, e.g. "reviewed 37 of 79 functions".
  if s.message and s.message ~= '' and s.state ~= 'error' then text = text .. ': ' .. s.message end
  return text
end

--- Configure, and start the server for every buffer of `filetypes`.
function M.setup(opts)
  M.config = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts or {})
  local group = vim.api.nvim_create_augroup('devassist', { clear = true })
  vim.api.nvim_create_autocmd('FileType', {
    group = group,
    pattern = M.config.filetypes,
    callback = function(args) M.start(args.buf) end,
  })
  vim.api.nvim_create_user_command('DevassistDocstring', function() M.generate_docstring() end,
    { desc = 'devassist: generate a docstring for the function at the cursor' })
  vim.api.nvim_create_user_command('DevassistSynthesize', function(a) M.synthesize(a.args) end,
    { nargs = '?', desc = 'devassist: synthesize test data from this CSV/JSON file' })
  vim.api.nvim_create_user_command('DevassistReview', function() M.review() end,
    { desc = 'devassist: review this file and list the findings' })
  vim.api.nvim_create_user_command('DevassistLearnWorkspace', function() M.learn_workspace() end,
    { desc = 'devassist: learn the code of this workspace' })
  vim.api.nvim_create_user_command('DevassistRestart', function()
    for _, c in ipairs(M.clients()) do M.stop(c) end
    clients_by_root = {}
    vim.wait(3000, function() return #M.clients() == 0 end, 50)
    for _, b in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(b) and vim.tbl_contains(M.config.filetypes, vim.bo[b].filetype) then M.start(b) end
    end
  end, { desc = 'devassist: restart the server' })
  -- Buffers that were already open when setup() ran.
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(b) and vim.tbl_contains(M.config.filetypes, vim.bo[b].filetype) then M.start(b) end
  end
end

return M
