
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'passerelle' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'passerelle'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'passerelle' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('parse', 'parse', [CompletionResultType]::ParameterValue, 'Read a CRM export and print each listing as JSON, without storing anything')
            [CompletionResult]::new('fetch', 'fetch', [CompletionResultType]::ParameterValue, 'Download an agency''s payload from its CRM into the staging folder, without importing it, and print the folder''s path')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Import a CRM export into the database as the agency''s full list of listings')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script to stdout')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page to stdout, or write every page to a directory')
            [CompletionResult]::new('crms', 'crms', [CompletionResultType]::ParameterValue, 'List the CRMs passerelle can import, with their transport and format')
            [CompletionResult]::new('runs', 'runs', [CompletionResultType]::ParameterValue, 'List recent import runs, newest first, or show one run with its rejected records, warnings and failed photos (`passerelle runs show ID`). The PHOTOS column counts stored/reused/failed photos')
            [CompletionResult]::new('config', 'config', [CompletionResultType]::ParameterValue, 'Work with the settings file')
            [CompletionResult]::new('media', 'media', [CompletionResultType]::ParameterValue, 'Look after the media directory of rendered photos')
            [CompletionResult]::new('sync', 'sync', [CompletionResultType]::ParameterValue, 'Fetch and import every integration of the settings file, or those named, keep going past failures, and print one line per integration')
            break
        }
        'passerelle;parse' {
            [CompletionResult]::new('--encoding', '--encoding', [CompletionResultType]::ParameterName, 'Text encoding of the listings file; `auto` picks UTF-8 when the whole file is valid UTF-8, else Windows-1252')
            [CompletionResult]::new('--crm', '--crm', [CompletionResultType]::ParameterName, 'CRM the export comes from; `passerelle crms` lists them')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output: one JSON listing per line, or a table for people')
            [CompletionResult]::new('--explain', '--explain', [CompletionResultType]::ParameterName, 'Show record N (1 is the first record) column by column: rank, specification name, raw value and the listing field it became')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]')
            [CompletionResult]::new('--all-columns', '--all-columns', [CompletionResultType]::ParameterName, 'With --explain, also list the empty columns')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'passerelle;fetch' {
            [CompletionResult]::new('--integration', '--integration', [CompletionResultType]::ParameterName, 'Integration, by its `name` in the settings file; it supplies the CRM, agency, organization, agent mapping and credentials')
            [CompletionResult]::new('--crm', '--crm', [CompletionResultType]::ParameterName, 'CRM code (or from --integration); `passerelle crms` lists them')
            [CompletionResult]::new('--agency', '--agency', [CompletionResultType]::ParameterName, 'The agency''s code in the CRM (Poliris column 1, the Apimo agency id). Records of other agencies in a grouped file are skipped; `passerelle parse` lists the codes a file holds')
            [CompletionResult]::new('--staging-dir', '--staging-dir', [CompletionResultType]::ParameterName, 'Folder that receives <crm>/<agency>/<UTC time>/ [default: `staging.path` of the settings file, else ./staging]')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'passerelle;import' {
            [CompletionResult]::new('--encoding', '--encoding', [CompletionResultType]::ParameterName, 'Text encoding of the listings file; `auto` picks UTF-8 when the whole file is valid UTF-8, else Windows-1252')
            [CompletionResult]::new('--integration', '--integration', [CompletionResultType]::ParameterName, 'Integration, by its `name` in the settings file; it supplies the CRM, agency, organization, agent mapping and credentials')
            [CompletionResult]::new('--crm', '--crm', [CompletionResultType]::ParameterName, 'CRM code (or from --integration); `passerelle crms` lists them')
            [CompletionResult]::new('--agency', '--agency', [CompletionResultType]::ParameterName, 'The agency''s code in the CRM (Poliris column 1, the Apimo agency id). Records of other agencies in a grouped file are skipped; `passerelle parse` lists the codes a file holds')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'SQLite database file, created when missing, or a postgres://user:password@host/db URL; also read from PASSERELLE_DATABASE [default: PASSERELLE_DATABASE_URL, else `database.url` or `database.path` of the settings file, else passerelle.db]')
            [CompletionResult]::new('--organization', '--organization', [CompletionResultType]::ParameterName, 'Organization the listings belong to on our side')
            [CompletionResult]::new('--default-agent', '--default-agent', [CompletionResultType]::ParameterName, 'Agent given to listings whose negotiator is not in the agent mapping')
            [CompletionResult]::new('--agent', '--agent', [CompletionResultType]::ParameterName, 'Map a CRM negotiator code or contact e-mail to an agent; repeatable')
            [CompletionResult]::new('--events', '--events', [CompletionResultType]::ParameterName, 'Write the run''s events as they happen: `jsonl` writes one JSON object per line, with a `type` (docs/EVENTS.md lists them), to stdout unless --events-file is given')
            [CompletionResult]::new('--events-file', '--events-file', [CompletionResultType]::ParameterName, 'Append the events to this file instead of stdout; implies --events jsonl')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Summary format: text on stderr for people, or one JSON object on stdout for programs')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]')
            [CompletionResult]::new('--allow-mass-withdrawal', '--allow-mass-withdrawal', [CompletionResultType]::ParameterName, 'Withdraw missing listings even when a guard would stop it: an export with no valid listing, one that would withdraw more than half of the active listings, or one much smaller than the last')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Withdraw missing listings even when a guard would stop it: an export with no valid listing, one that would withdraw more than half of the active listings, or one much smaller than the last')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Read and check everything, report what would change, write nothing')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Wait for another process''s import of the same agency to end, instead of stopping with exit status 5')
            [CompletionResult]::new('--no-photos', '--no-photos', [CompletionResultType]::ParameterName, 'Import the listing data only; photos are neither fetched nor checked')
            [CompletionResult]::new('--photos-only', '--photos-only', [CompletionResultType]::ParameterName, 'Process only the photos that earlier runs left pending or failed, without importing listings. `import` takes archive photos from its INPUT; `sync` fetches nothing')
            [CompletionResult]::new('--refresh-photos', '--refresh-photos', [CompletionResultType]::ParameterName, 'Download again the stored photos whose server sent no ETag or Last-Modified; without this flag they count as unchanged while their URL is')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'passerelle;completions' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'passerelle;man' {
            [CompletionResult]::new('--output-dir', '--output-dir', [CompletionResultType]::ParameterName, 'Write passerelle.1 and one page per subcommand (passerelle-import.1, …) into this directory instead of printing passerelle.1')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'passerelle;crms' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output: a table for people, or one JSON array for programs')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'passerelle;runs' {
            [CompletionResult]::new('--integration', '--integration', [CompletionResultType]::ParameterName, 'Integration, by its `name` in the settings file; it supplies the CRM, agency, organization, agent mapping and credentials')
            [CompletionResult]::new('--crm', '--crm', [CompletionResultType]::ParameterName, 'CRM code (or from --integration); `passerelle crms` lists them')
            [CompletionResult]::new('--agency', '--agency', [CompletionResultType]::ParameterName, 'The agency''s code in the CRM (Poliris column 1, the Apimo agency id). Records of other agencies in a grouped file are skipped; `passerelle parse` lists the codes a file holds')
            [CompletionResult]::new('--status', '--status', [CompletionResultType]::ParameterName, 'Only runs with this status')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Number of runs listed')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'SQLite database file, or a postgres://user:password@host/db URL; also read from PASSERELLE_DATABASE [default: PASSERELLE_DATABASE_URL, else `database.url` or `database.path` of the settings file, else passerelle.db]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output: a table for people, or JSON for programs')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one run: its counts, status, error, rejected records and warnings')
            break
        }
        'passerelle;runs;show' {
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'SQLite database file, or a postgres://user:password@host/db URL; also read from PASSERELLE_DATABASE [default: PASSERELLE_DATABASE_URL, else `database.url` or `database.path` of the settings file, else passerelle.db]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output: a table for people, or JSON for programs')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'passerelle;config' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Check a settings file and report every problem with its key path: unknown keys, unknown CRM codes, repeated names, invalid values and environment variables that are not set. Exits with status 2 when it finds a problem, else 0')
            [CompletionResult]::new('crontab', 'crontab', [CompletionResultType]::ParameterValue, 'Print crontab lines that sync each integration on its `schedule`, with absolute paths to this program and the settings file')
            break
        }
        'passerelle;config;check' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'passerelle;config;crontab' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'passerelle;media' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('gc', 'gc', [CompletionResultType]::ParameterValue, 'Remove the photo files that no listing''s photo refers to any more: photos dropped from their listing, or of deleted listings. Imports never remove files; this does, when run')
            break
        }
        'passerelle;media;gc' {
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'Database whose photos are kept: a SQLite file or a postgres://user:password@host/db URL; also read from PASSERELLE_DATABASE [default: PASSERELLE_DATABASE_URL, else `database.url` or `database.path` of the settings file, else passerelle.db]')
            [CompletionResult]::new('--min-age-minutes', '--min-age-minutes', [CompletionResultType]::ParameterName, 'Keep unreferenced files younger than this many minutes: an import running now writes files before it records them')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Summary: text on stderr for people, or one JSON object on stdout')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Count what would be removed, remove nothing')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'passerelle;sync' {
            [CompletionResult]::new('--integration', '--integration', [CompletionResultType]::ParameterName, 'Integration to sync, by its `name` in the settings file; repeatable [default: every integration]')
            [CompletionResult]::new('--crm', '--crm', [CompletionResultType]::ParameterName, 'Only the integrations of this CRM')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Integrations synced at the same time')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'SQLite database file, or a postgres://user:password@host/db URL; also read from PASSERELLE_DATABASE [default: PASSERELLE_DATABASE_URL, else `database.url` or `database.path` of the settings file, else passerelle.db]')
            [CompletionResult]::new('--staging-dir', '--staging-dir', [CompletionResultType]::ParameterName, 'Folder that receives the fetched payloads [default: `staging.path` of the settings file, else ./staging]')
            [CompletionResult]::new('--events', '--events', [CompletionResultType]::ParameterName, 'Write the run''s events as they happen: `jsonl` writes one JSON object per line, with a `type` (docs/EVENTS.md lists them), to stdout unless --events-file is given')
            [CompletionResult]::new('--events-file', '--events-file', [CompletionResultType]::ParameterName, 'Append the events to this file instead of stdout; implies --events jsonl')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Summary: a table for people, or JSON for programs')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Withdraw missing listings even when a guard would stop it')
            [CompletionResult]::new('--retry-failed', '--retry-failed', [CompletionResultType]::ParameterName, 'Sync only the integrations whose last run failed or was interrupted')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Wait for another process''s run of the same agency to end, instead of skipping that agency with the locked status')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Fetch and compare everything, write nothing to the database')
            [CompletionResult]::new('--no-photos', '--no-photos', [CompletionResultType]::ParameterName, 'Import the listing data only; photos are neither fetched nor checked')
            [CompletionResult]::new('--photos-only', '--photos-only', [CompletionResultType]::ParameterName, 'Process only the photos that earlier runs left pending or failed, without importing listings. `import` takes archive photos from its INPUT; `sync` fetches nothing')
            [CompletionResult]::new('--refresh-photos', '--refresh-photos', [CompletionResultType]::ParameterName, 'Download again the stored photos whose server sent no ETag or Last-Modified; without this flag they count as unchanged while their URL is')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors, rejected records and failed photos on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries'' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
