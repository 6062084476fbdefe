# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_passerelle_global_optspecs
    string join \n q/quiet v/verbose color= no-progress log-format= config= h/help V/version
end

function __fish_passerelle_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_passerelle_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_passerelle_using_subcommand
    set -l cmd (__fish_passerelle_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c passerelle -n "__fish_passerelle_needs_command" -l color -d 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty' -r -f -a "auto\t'When stderr is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c passerelle -n "__fish_passerelle_needs_command" -l log-format -d 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line, for log collectors: `time`, `level`, `message` and the event\'s own fields'"
complete -c passerelle -n "__fish_passerelle_needs_command" -l config -d 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]' -r -F
complete -c passerelle -n "__fish_passerelle_needs_command" -s q -l quiet -d 'Print only errors, rejected records and failed photos on stderr'
complete -c passerelle -n "__fish_passerelle_needs_command" -s v -l verbose -d 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries\' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)'
complete -c passerelle -n "__fish_passerelle_needs_command" -l no-progress -d 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout'
complete -c passerelle -n "__fish_passerelle_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c passerelle -n "__fish_passerelle_needs_command" -s V -l version -d 'Print version'
complete -c passerelle -n "__fish_passerelle_needs_command" -f -a "parse" -d 'Read a CRM export and print each listing as JSON, without storing anything'
complete -c passerelle -n "__fish_passerelle_needs_command" -f -a "fetch" -d 'Download an agency\'s payload from its CRM into the staging folder, without importing it, and print the folder\'s path'
complete -c passerelle -n "__fish_passerelle_needs_command" -f -a "import" -d 'Import a CRM export into the database as the agency\'s full list of listings'
complete -c passerelle -n "__fish_passerelle_needs_command" -f -a "completions" -d 'Print a shell completion script to stdout'
complete -c passerelle -n "__fish_passerelle_needs_command" -f -a "man" -d 'Print the man page to stdout, or write every page to a directory'
complete -c passerelle -n "__fish_passerelle_needs_command" -f -a "crms" -d 'List the CRMs passerelle can import, with their transport and format'
complete -c passerelle -n "__fish_passerelle_needs_command" -f -a "runs" -d 'List recent import runs, newest first, or show one run with its rejected records, warnings and failed photos (`passerelle runs show ID`). The PHOTOS column counts stored/reused/failed photos'
complete -c passerelle -n "__fish_passerelle_needs_command" -f -a "config" -d 'Work with the settings file'
complete -c passerelle -n "__fish_passerelle_needs_command" -f -a "media" -d 'Look after the media directory of rendered photos'
complete -c passerelle -n "__fish_passerelle_needs_command" -f -a "sync" -d 'Fetch and import every integration of the settings file, or those named, keep going past failures, and print one line per integration'
complete -c passerelle -n "__fish_passerelle_using_subcommand parse" -l encoding -d 'Text encoding of the listings file; `auto` picks UTF-8 when the whole file is valid UTF-8, else Windows-1252' -r -f -a "auto\t''
utf-8\t''
windows-1252\t''"
complete -c passerelle -n "__fish_passerelle_using_subcommand parse" -l crm -d 'CRM the export comes from; `passerelle crms` lists them' -r -f -a "apimo\t'Apimo, REST API'
poliris\t'Any SeLoger/Poliris export given by path'
hektor\t'Hektor (La Boîte Immo), Poliris export'
twimmo\t'Twimmo, Poliris export'
kyero\t'Kyero v3 XML feed, pulled from its URL'
openimmo\t'OpenImmo XML, zipped with its attachments, dropped on FTP'"
complete -c passerelle -n "__fish_passerelle_using_subcommand parse" -l format -d 'Output: one JSON listing per line, or a table for people' -r -f -a "jsonl\t''
table\t''"
complete -c passerelle -n "__fish_passerelle_using_subcommand parse" -l explain -d 'Show record N (1 is the first record) column by column: rank, specification name, raw value and the listing field it became' -r
complete -c passerelle -n "__fish_passerelle_using_subcommand parse" -l color -d 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty' -r -f -a "auto\t'When stderr is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c passerelle -n "__fish_passerelle_using_subcommand parse" -l log-format -d 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line, for log collectors: `time`, `level`, `message` and the event\'s own fields'"
complete -c passerelle -n "__fish_passerelle_using_subcommand parse" -l config -d 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]' -r -F
complete -c passerelle -n "__fish_passerelle_using_subcommand parse" -l all-columns -d 'With --explain, also list the empty columns'
complete -c passerelle -n "__fish_passerelle_using_subcommand parse" -s q -l quiet -d 'Print only errors, rejected records and failed photos on stderr'
complete -c passerelle -n "__fish_passerelle_using_subcommand parse" -s v -l verbose -d 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries\' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)'
complete -c passerelle -n "__fish_passerelle_using_subcommand parse" -l no-progress -d 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout'
complete -c passerelle -n "__fish_passerelle_using_subcommand parse" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c passerelle -n "__fish_passerelle_using_subcommand parse" -s V -l version -d 'Print version'
complete -c passerelle -n "__fish_passerelle_using_subcommand fetch" -l integration -d 'Integration, by its `name` in the settings file; it supplies the CRM, agency, organization, agent mapping and credentials' -r
complete -c passerelle -n "__fish_passerelle_using_subcommand fetch" -l crm -d 'CRM code (or from --integration); `passerelle crms` lists them' -r -f -a "apimo\t'Apimo, REST API'
poliris\t'Any SeLoger/Poliris export given by path'
hektor\t'Hektor (La Boîte Immo), Poliris export'
twimmo\t'Twimmo, Poliris export'
kyero\t'Kyero v3 XML feed, pulled from its URL'
openimmo\t'OpenImmo XML, zipped with its attachments, dropped on FTP'"
complete -c passerelle -n "__fish_passerelle_using_subcommand fetch" -l agency -d 'The agency\'s code in the CRM (Poliris column 1, the Apimo agency id). Records of other agencies in a grouped file are skipped; `passerelle parse` lists the codes a file holds' -r
complete -c passerelle -n "__fish_passerelle_using_subcommand fetch" -l staging-dir -d 'Folder that receives <crm>/<agency>/<UTC time>/ [default: `staging.path` of the settings file, else ./staging]' -r -F
complete -c passerelle -n "__fish_passerelle_using_subcommand fetch" -l color -d 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty' -r -f -a "auto\t'When stderr is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c passerelle -n "__fish_passerelle_using_subcommand fetch" -l log-format -d 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line, for log collectors: `time`, `level`, `message` and the event\'s own fields'"
complete -c passerelle -n "__fish_passerelle_using_subcommand fetch" -l config -d 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]' -r -F
complete -c passerelle -n "__fish_passerelle_using_subcommand fetch" -s q -l quiet -d 'Print only errors, rejected records and failed photos on stderr'
complete -c passerelle -n "__fish_passerelle_using_subcommand fetch" -s v -l verbose -d 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries\' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)'
complete -c passerelle -n "__fish_passerelle_using_subcommand fetch" -l no-progress -d 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout'
complete -c passerelle -n "__fish_passerelle_using_subcommand fetch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c passerelle -n "__fish_passerelle_using_subcommand fetch" -s V -l version -d 'Print version'
complete -c passerelle -n "__fish_passerelle_using_subcommand import" -l encoding -d 'Text encoding of the listings file; `auto` picks UTF-8 when the whole file is valid UTF-8, else Windows-1252' -r -f -a "auto\t''
utf-8\t''
windows-1252\t''"
complete -c passerelle -n "__fish_passerelle_using_subcommand import" -l integration -d 'Integration, by its `name` in the settings file; it supplies the CRM, agency, organization, agent mapping and credentials' -r
complete -c passerelle -n "__fish_passerelle_using_subcommand import" -l crm -d 'CRM code (or from --integration); `passerelle crms` lists them' -r -f -a "apimo\t'Apimo, REST API'
poliris\t'Any SeLoger/Poliris export given by path'
hektor\t'Hektor (La Boîte Immo), Poliris export'
twimmo\t'Twimmo, Poliris export'
kyero\t'Kyero v3 XML feed, pulled from its URL'
openimmo\t'OpenImmo XML, zipped with its attachments, dropped on FTP'"
complete -c passerelle -n "__fish_passerelle_using_subcommand import" -l agency -d 'The agency\'s code in the CRM (Poliris column 1, the Apimo agency id). Records of other agencies in a grouped file are skipped; `passerelle parse` lists the codes a file holds' -r
complete -c passerelle -n "__fish_passerelle_using_subcommand import" -l database -d 'SQLite database file, created when missing, or a postgres://user:password@host/db URL; also read from PASSERELLE_DATABASE [default: PASSERELLE_DATABASE_URL, else `database.url` or `database.path` of the settings file, else passerelle.db]' -r
complete -c passerelle -n "__fish_passerelle_using_subcommand import" -l organization -d 'Organization the listings belong to on our side' -r
complete -c passerelle -n "__fish_passerelle_using_subcommand import" -l default-agent -d 'Agent given to listings whose negotiator is not in the agent mapping' -r
complete -c passerelle -n "__fish_passerelle_using_subcommand import" -l agent -d 'Map a CRM negotiator code or contact e-mail to an agent; repeatable' -r
complete -c passerelle -n "__fish_passerelle_using_subcommand import" -l events -d 'Write the run\'s events as they happen: `jsonl` writes one JSON object per line, with a `type` (docs/EVENTS.md lists them), to stdout unless --events-file is given' -r -f -a "jsonl\t'JSON Lines: one event per line'"
complete -c passerelle -n "__fish_passerelle_using_subcommand import" -l events-file -d 'Append the events to this file instead of stdout; implies --events jsonl' -r -F
complete -c passerelle -n "__fish_passerelle_using_subcommand import" -l format -d 'Summary format: text on stderr for people, or one JSON object on stdout for programs' -r -f -a "text\t''
json\t''"
complete -c passerelle -n "__fish_passerelle_using_subcommand import" -l color -d 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty' -r -f -a "auto\t'When stderr is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c passerelle -n "__fish_passerelle_using_subcommand import" -l log-format -d 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line, for log collectors: `time`, `level`, `message` and the event\'s own fields'"
complete -c passerelle -n "__fish_passerelle_using_subcommand import" -l config -d 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]' -r -F
complete -c passerelle -n "__fish_passerelle_using_subcommand import" -l allow-mass-withdrawal -l force -d 'Withdraw missing listings even when a guard would stop it: an export with no valid listing, one that would withdraw more than half of the active listings, or one much smaller than the last'
complete -c passerelle -n "__fish_passerelle_using_subcommand import" -l dry-run -d 'Read and check everything, report what would change, write nothing'
complete -c passerelle -n "__fish_passerelle_using_subcommand import" -l wait -d 'Wait for another process\'s import of the same agency to end, instead of stopping with exit status 5'
complete -c passerelle -n "__fish_passerelle_using_subcommand import" -l no-photos -d 'Import the listing data only; photos are neither fetched nor checked'
complete -c passerelle -n "__fish_passerelle_using_subcommand import" -l photos-only -d 'Process only the photos that earlier runs left pending or failed, without importing listings. `import` takes archive photos from its INPUT; `sync` fetches nothing'
complete -c passerelle -n "__fish_passerelle_using_subcommand import" -l refresh-photos -d 'Download again the stored photos whose server sent no ETag or Last-Modified; without this flag they count as unchanged while their URL is'
complete -c passerelle -n "__fish_passerelle_using_subcommand import" -s q -l quiet -d 'Print only errors, rejected records and failed photos on stderr'
complete -c passerelle -n "__fish_passerelle_using_subcommand import" -s v -l verbose -d 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries\' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)'
complete -c passerelle -n "__fish_passerelle_using_subcommand import" -l no-progress -d 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout'
complete -c passerelle -n "__fish_passerelle_using_subcommand import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c passerelle -n "__fish_passerelle_using_subcommand import" -s V -l version -d 'Print version'
complete -c passerelle -n "__fish_passerelle_using_subcommand completions" -l color -d 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty' -r -f -a "auto\t'When stderr is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c passerelle -n "__fish_passerelle_using_subcommand completions" -l log-format -d 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line, for log collectors: `time`, `level`, `message` and the event\'s own fields'"
complete -c passerelle -n "__fish_passerelle_using_subcommand completions" -l config -d 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]' -r -F
complete -c passerelle -n "__fish_passerelle_using_subcommand completions" -s q -l quiet -d 'Print only errors, rejected records and failed photos on stderr'
complete -c passerelle -n "__fish_passerelle_using_subcommand completions" -s v -l verbose -d 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries\' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)'
complete -c passerelle -n "__fish_passerelle_using_subcommand completions" -l no-progress -d 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout'
complete -c passerelle -n "__fish_passerelle_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c passerelle -n "__fish_passerelle_using_subcommand completions" -s V -l version -d 'Print version'
complete -c passerelle -n "__fish_passerelle_using_subcommand man" -l output-dir -d 'Write passerelle.1 and one page per subcommand (passerelle-import.1, …) into this directory instead of printing passerelle.1' -r -F
complete -c passerelle -n "__fish_passerelle_using_subcommand man" -l color -d 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty' -r -f -a "auto\t'When stderr is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c passerelle -n "__fish_passerelle_using_subcommand man" -l log-format -d 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line, for log collectors: `time`, `level`, `message` and the event\'s own fields'"
complete -c passerelle -n "__fish_passerelle_using_subcommand man" -l config -d 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]' -r -F
complete -c passerelle -n "__fish_passerelle_using_subcommand man" -s q -l quiet -d 'Print only errors, rejected records and failed photos on stderr'
complete -c passerelle -n "__fish_passerelle_using_subcommand man" -s v -l verbose -d 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries\' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)'
complete -c passerelle -n "__fish_passerelle_using_subcommand man" -l no-progress -d 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout'
complete -c passerelle -n "__fish_passerelle_using_subcommand man" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c passerelle -n "__fish_passerelle_using_subcommand man" -s V -l version -d 'Print version'
complete -c passerelle -n "__fish_passerelle_using_subcommand crms" -l format -d 'Output: a table for people, or one JSON array for programs' -r -f -a "text\t''
json\t''"
complete -c passerelle -n "__fish_passerelle_using_subcommand crms" -l color -d 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty' -r -f -a "auto\t'When stderr is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c passerelle -n "__fish_passerelle_using_subcommand crms" -l log-format -d 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line, for log collectors: `time`, `level`, `message` and the event\'s own fields'"
complete -c passerelle -n "__fish_passerelle_using_subcommand crms" -l config -d 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]' -r -F
complete -c passerelle -n "__fish_passerelle_using_subcommand crms" -s q -l quiet -d 'Print only errors, rejected records and failed photos on stderr'
complete -c passerelle -n "__fish_passerelle_using_subcommand crms" -s v -l verbose -d 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries\' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)'
complete -c passerelle -n "__fish_passerelle_using_subcommand crms" -l no-progress -d 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout'
complete -c passerelle -n "__fish_passerelle_using_subcommand crms" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c passerelle -n "__fish_passerelle_using_subcommand crms" -s V -l version -d 'Print version'
complete -c passerelle -n "__fish_passerelle_using_subcommand runs; and not __fish_seen_subcommand_from show" -l integration -d 'Integration, by its `name` in the settings file; it supplies the CRM, agency, organization, agent mapping and credentials' -r
complete -c passerelle -n "__fish_passerelle_using_subcommand runs; and not __fish_seen_subcommand_from show" -l crm -d 'CRM code (or from --integration); `passerelle crms` lists them' -r -f -a "apimo\t'Apimo, REST API'
poliris\t'Any SeLoger/Poliris export given by path'
hektor\t'Hektor (La Boîte Immo), Poliris export'
twimmo\t'Twimmo, Poliris export'
kyero\t'Kyero v3 XML feed, pulled from its URL'
openimmo\t'OpenImmo XML, zipped with its attachments, dropped on FTP'"
complete -c passerelle -n "__fish_passerelle_using_subcommand runs; and not __fish_seen_subcommand_from show" -l agency -d 'The agency\'s code in the CRM (Poliris column 1, the Apimo agency id). Records of other agencies in a grouped file are skipped; `passerelle parse` lists the codes a file holds' -r
complete -c passerelle -n "__fish_passerelle_using_subcommand runs; and not __fish_seen_subcommand_from show" -l status -d 'Only runs with this status' -r -f -a "running\t''
succeeded\t''
partial\t''
guard_tripped\t''
failed\t''
interrupted\t''"
complete -c passerelle -n "__fish_passerelle_using_subcommand runs; and not __fish_seen_subcommand_from show" -l limit -d 'Number of runs listed' -r
complete -c passerelle -n "__fish_passerelle_using_subcommand runs; and not __fish_seen_subcommand_from show" -l database -d 'SQLite database file, or a postgres://user:password@host/db URL; also read from PASSERELLE_DATABASE [default: PASSERELLE_DATABASE_URL, else `database.url` or `database.path` of the settings file, else passerelle.db]' -r
complete -c passerelle -n "__fish_passerelle_using_subcommand runs; and not __fish_seen_subcommand_from show" -l format -d 'Output: a table for people, or JSON for programs' -r -f -a "text\t''
json\t''"
complete -c passerelle -n "__fish_passerelle_using_subcommand runs; and not __fish_seen_subcommand_from show" -l color -d 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty' -r -f -a "auto\t'When stderr is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c passerelle -n "__fish_passerelle_using_subcommand runs; and not __fish_seen_subcommand_from show" -l log-format -d 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line, for log collectors: `time`, `level`, `message` and the event\'s own fields'"
complete -c passerelle -n "__fish_passerelle_using_subcommand runs; and not __fish_seen_subcommand_from show" -l config -d 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]' -r -F
complete -c passerelle -n "__fish_passerelle_using_subcommand runs; and not __fish_seen_subcommand_from show" -s q -l quiet -d 'Print only errors, rejected records and failed photos on stderr'
complete -c passerelle -n "__fish_passerelle_using_subcommand runs; and not __fish_seen_subcommand_from show" -s v -l verbose -d 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries\' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)'
complete -c passerelle -n "__fish_passerelle_using_subcommand runs; and not __fish_seen_subcommand_from show" -l no-progress -d 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout'
complete -c passerelle -n "__fish_passerelle_using_subcommand runs; and not __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c passerelle -n "__fish_passerelle_using_subcommand runs; and not __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c passerelle -n "__fish_passerelle_using_subcommand runs; and not __fish_seen_subcommand_from show" -f -a "show" -d 'Show one run: its counts, status, error, rejected records and warnings'
complete -c passerelle -n "__fish_passerelle_using_subcommand runs; and __fish_seen_subcommand_from show" -l database -d 'SQLite database file, or a postgres://user:password@host/db URL; also read from PASSERELLE_DATABASE [default: PASSERELLE_DATABASE_URL, else `database.url` or `database.path` of the settings file, else passerelle.db]' -r
complete -c passerelle -n "__fish_passerelle_using_subcommand runs; and __fish_seen_subcommand_from show" -l format -d 'Output: a table for people, or JSON for programs' -r -f -a "text\t''
json\t''"
complete -c passerelle -n "__fish_passerelle_using_subcommand runs; and __fish_seen_subcommand_from show" -l color -d 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty' -r -f -a "auto\t'When stderr is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c passerelle -n "__fish_passerelle_using_subcommand runs; and __fish_seen_subcommand_from show" -l log-format -d 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line, for log collectors: `time`, `level`, `message` and the event\'s own fields'"
complete -c passerelle -n "__fish_passerelle_using_subcommand runs; and __fish_seen_subcommand_from show" -l config -d 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]' -r -F
complete -c passerelle -n "__fish_passerelle_using_subcommand runs; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print only errors, rejected records and failed photos on stderr'
complete -c passerelle -n "__fish_passerelle_using_subcommand runs; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries\' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)'
complete -c passerelle -n "__fish_passerelle_using_subcommand runs; and __fish_seen_subcommand_from show" -l no-progress -d 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout'
complete -c passerelle -n "__fish_passerelle_using_subcommand runs; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c passerelle -n "__fish_passerelle_using_subcommand runs; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c passerelle -n "__fish_passerelle_using_subcommand config; and not __fish_seen_subcommand_from check crontab" -l color -d 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty' -r -f -a "auto\t'When stderr is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c passerelle -n "__fish_passerelle_using_subcommand config; and not __fish_seen_subcommand_from check crontab" -l log-format -d 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line, for log collectors: `time`, `level`, `message` and the event\'s own fields'"
complete -c passerelle -n "__fish_passerelle_using_subcommand config; and not __fish_seen_subcommand_from check crontab" -l config -d 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]' -r -F
complete -c passerelle -n "__fish_passerelle_using_subcommand config; and not __fish_seen_subcommand_from check crontab" -s q -l quiet -d 'Print only errors, rejected records and failed photos on stderr'
complete -c passerelle -n "__fish_passerelle_using_subcommand config; and not __fish_seen_subcommand_from check crontab" -s v -l verbose -d 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries\' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)'
complete -c passerelle -n "__fish_passerelle_using_subcommand config; and not __fish_seen_subcommand_from check crontab" -l no-progress -d 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout'
complete -c passerelle -n "__fish_passerelle_using_subcommand config; and not __fish_seen_subcommand_from check crontab" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c passerelle -n "__fish_passerelle_using_subcommand config; and not __fish_seen_subcommand_from check crontab" -s V -l version -d 'Print version'
complete -c passerelle -n "__fish_passerelle_using_subcommand config; and not __fish_seen_subcommand_from check crontab" -f -a "check" -d 'Check a settings file and report every problem with its key path: unknown keys, unknown CRM codes, repeated names, invalid values and environment variables that are not set. Exits with status 2 when it finds a problem, else 0'
complete -c passerelle -n "__fish_passerelle_using_subcommand config; and not __fish_seen_subcommand_from check crontab" -f -a "crontab" -d 'Print crontab lines that sync each integration on its `schedule`, with absolute paths to this program and the settings file'
complete -c passerelle -n "__fish_passerelle_using_subcommand config; and __fish_seen_subcommand_from check" -l color -d 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty' -r -f -a "auto\t'When stderr is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c passerelle -n "__fish_passerelle_using_subcommand config; and __fish_seen_subcommand_from check" -l log-format -d 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line, for log collectors: `time`, `level`, `message` and the event\'s own fields'"
complete -c passerelle -n "__fish_passerelle_using_subcommand config; and __fish_seen_subcommand_from check" -l config -d 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]' -r -F
complete -c passerelle -n "__fish_passerelle_using_subcommand config; and __fish_seen_subcommand_from check" -s q -l quiet -d 'Print only errors, rejected records and failed photos on stderr'
complete -c passerelle -n "__fish_passerelle_using_subcommand config; and __fish_seen_subcommand_from check" -s v -l verbose -d 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries\' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)'
complete -c passerelle -n "__fish_passerelle_using_subcommand config; and __fish_seen_subcommand_from check" -l no-progress -d 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout'
complete -c passerelle -n "__fish_passerelle_using_subcommand config; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c passerelle -n "__fish_passerelle_using_subcommand config; and __fish_seen_subcommand_from check" -s V -l version -d 'Print version'
complete -c passerelle -n "__fish_passerelle_using_subcommand config; and __fish_seen_subcommand_from crontab" -l color -d 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty' -r -f -a "auto\t'When stderr is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c passerelle -n "__fish_passerelle_using_subcommand config; and __fish_seen_subcommand_from crontab" -l log-format -d 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line, for log collectors: `time`, `level`, `message` and the event\'s own fields'"
complete -c passerelle -n "__fish_passerelle_using_subcommand config; and __fish_seen_subcommand_from crontab" -l config -d 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]' -r -F
complete -c passerelle -n "__fish_passerelle_using_subcommand config; and __fish_seen_subcommand_from crontab" -s q -l quiet -d 'Print only errors, rejected records and failed photos on stderr'
complete -c passerelle -n "__fish_passerelle_using_subcommand config; and __fish_seen_subcommand_from crontab" -s v -l verbose -d 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries\' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)'
complete -c passerelle -n "__fish_passerelle_using_subcommand config; and __fish_seen_subcommand_from crontab" -l no-progress -d 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout'
complete -c passerelle -n "__fish_passerelle_using_subcommand config; and __fish_seen_subcommand_from crontab" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c passerelle -n "__fish_passerelle_using_subcommand config; and __fish_seen_subcommand_from crontab" -s V -l version -d 'Print version'
complete -c passerelle -n "__fish_passerelle_using_subcommand media; and not __fish_seen_subcommand_from gc" -l color -d 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty' -r -f -a "auto\t'When stderr is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c passerelle -n "__fish_passerelle_using_subcommand media; and not __fish_seen_subcommand_from gc" -l log-format -d 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line, for log collectors: `time`, `level`, `message` and the event\'s own fields'"
complete -c passerelle -n "__fish_passerelle_using_subcommand media; and not __fish_seen_subcommand_from gc" -l config -d 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]' -r -F
complete -c passerelle -n "__fish_passerelle_using_subcommand media; and not __fish_seen_subcommand_from gc" -s q -l quiet -d 'Print only errors, rejected records and failed photos on stderr'
complete -c passerelle -n "__fish_passerelle_using_subcommand media; and not __fish_seen_subcommand_from gc" -s v -l verbose -d 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries\' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)'
complete -c passerelle -n "__fish_passerelle_using_subcommand media; and not __fish_seen_subcommand_from gc" -l no-progress -d 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout'
complete -c passerelle -n "__fish_passerelle_using_subcommand media; and not __fish_seen_subcommand_from gc" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c passerelle -n "__fish_passerelle_using_subcommand media; and not __fish_seen_subcommand_from gc" -s V -l version -d 'Print version'
complete -c passerelle -n "__fish_passerelle_using_subcommand media; and not __fish_seen_subcommand_from gc" -f -a "gc" -d 'Remove the photo files that no listing\'s photo refers to any more: photos dropped from their listing, or of deleted listings. Imports never remove files; this does, when run'
complete -c passerelle -n "__fish_passerelle_using_subcommand media; and __fish_seen_subcommand_from gc" -l database -d 'Database whose photos are kept: a SQLite file or a postgres://user:password@host/db URL; also read from PASSERELLE_DATABASE [default: PASSERELLE_DATABASE_URL, else `database.url` or `database.path` of the settings file, else passerelle.db]' -r
complete -c passerelle -n "__fish_passerelle_using_subcommand media; and __fish_seen_subcommand_from gc" -l min-age-minutes -d 'Keep unreferenced files younger than this many minutes: an import running now writes files before it records them' -r
complete -c passerelle -n "__fish_passerelle_using_subcommand media; and __fish_seen_subcommand_from gc" -l format -d 'Summary: text on stderr for people, or one JSON object on stdout' -r -f -a "text\t''
json\t''"
complete -c passerelle -n "__fish_passerelle_using_subcommand media; and __fish_seen_subcommand_from gc" -l color -d 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty' -r -f -a "auto\t'When stderr is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c passerelle -n "__fish_passerelle_using_subcommand media; and __fish_seen_subcommand_from gc" -l log-format -d 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line, for log collectors: `time`, `level`, `message` and the event\'s own fields'"
complete -c passerelle -n "__fish_passerelle_using_subcommand media; and __fish_seen_subcommand_from gc" -l config -d 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]' -r -F
complete -c passerelle -n "__fish_passerelle_using_subcommand media; and __fish_seen_subcommand_from gc" -l dry-run -d 'Count what would be removed, remove nothing'
complete -c passerelle -n "__fish_passerelle_using_subcommand media; and __fish_seen_subcommand_from gc" -s q -l quiet -d 'Print only errors, rejected records and failed photos on stderr'
complete -c passerelle -n "__fish_passerelle_using_subcommand media; and __fish_seen_subcommand_from gc" -s v -l verbose -d 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries\' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)'
complete -c passerelle -n "__fish_passerelle_using_subcommand media; and __fish_seen_subcommand_from gc" -l no-progress -d 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout'
complete -c passerelle -n "__fish_passerelle_using_subcommand media; and __fish_seen_subcommand_from gc" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c passerelle -n "__fish_passerelle_using_subcommand media; and __fish_seen_subcommand_from gc" -s V -l version -d 'Print version'
complete -c passerelle -n "__fish_passerelle_using_subcommand sync" -l integration -d 'Integration to sync, by its `name` in the settings file; repeatable [default: every integration]' -r
complete -c passerelle -n "__fish_passerelle_using_subcommand sync" -l crm -d 'Only the integrations of this CRM' -r -f -a "apimo\t'Apimo, REST API'
poliris\t'Any SeLoger/Poliris export given by path'
hektor\t'Hektor (La Boîte Immo), Poliris export'
twimmo\t'Twimmo, Poliris export'
kyero\t'Kyero v3 XML feed, pulled from its URL'
openimmo\t'OpenImmo XML, zipped with its attachments, dropped on FTP'"
complete -c passerelle -n "__fish_passerelle_using_subcommand sync" -l jobs -d 'Integrations synced at the same time' -r
complete -c passerelle -n "__fish_passerelle_using_subcommand sync" -l database -d 'SQLite database file, or a postgres://user:password@host/db URL; also read from PASSERELLE_DATABASE [default: PASSERELLE_DATABASE_URL, else `database.url` or `database.path` of the settings file, else passerelle.db]' -r
complete -c passerelle -n "__fish_passerelle_using_subcommand sync" -l staging-dir -d 'Folder that receives the fetched payloads [default: `staging.path` of the settings file, else ./staging]' -r -F
complete -c passerelle -n "__fish_passerelle_using_subcommand sync" -l events -d 'Write the run\'s events as they happen: `jsonl` writes one JSON object per line, with a `type` (docs/EVENTS.md lists them), to stdout unless --events-file is given' -r -f -a "jsonl\t'JSON Lines: one event per line'"
complete -c passerelle -n "__fish_passerelle_using_subcommand sync" -l events-file -d 'Append the events to this file instead of stdout; implies --events jsonl' -r -F
complete -c passerelle -n "__fish_passerelle_using_subcommand sync" -l format -d 'Summary: a table for people, or JSON for programs' -r -f -a "text\t''
json\t''"
complete -c passerelle -n "__fish_passerelle_using_subcommand sync" -l color -d 'Colour the `error:`, `warning:`, `rejected:` and `hint:` prefixes on stderr: `auto` does when stderr is a terminal and NO_COLOR is unset or empty' -r -f -a "auto\t'When stderr is a terminal and NO_COLOR is not set'
always\t''
never\t''"
complete -c passerelle -n "__fish_passerelle_using_subcommand sync" -l log-format -d 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors' -r -f -a "text\t'Lines for people'
json\t'One JSON object per line, for log collectors: `time`, `level`, `message` and the event\'s own fields'"
complete -c passerelle -n "__fish_passerelle_using_subcommand sync" -l config -d 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]' -r -F
complete -c passerelle -n "__fish_passerelle_using_subcommand sync" -l force -d 'Withdraw missing listings even when a guard would stop it'
complete -c passerelle -n "__fish_passerelle_using_subcommand sync" -l retry-failed -d 'Sync only the integrations whose last run failed or was interrupted'
complete -c passerelle -n "__fish_passerelle_using_subcommand sync" -l wait -d 'Wait for another process\'s run of the same agency to end, instead of skipping that agency with the locked status'
complete -c passerelle -n "__fish_passerelle_using_subcommand sync" -l dry-run -d 'Fetch and compare everything, write nothing to the database'
complete -c passerelle -n "__fish_passerelle_using_subcommand sync" -l no-photos -d 'Import the listing data only; photos are neither fetched nor checked'
complete -c passerelle -n "__fish_passerelle_using_subcommand sync" -l photos-only -d 'Process only the photos that earlier runs left pending or failed, without importing listings. `import` takes archive photos from its INPUT; `sync` fetches nothing'
complete -c passerelle -n "__fish_passerelle_using_subcommand sync" -l refresh-photos -d 'Download again the stored photos whose server sent no ETag or Last-Modified; without this flag they count as unchanged while their URL is'
complete -c passerelle -n "__fish_passerelle_using_subcommand sync" -s q -l quiet -d 'Print only errors, rejected records and failed photos on stderr'
complete -c passerelle -n "__fish_passerelle_using_subcommand sync" -s v -l verbose -d 'Show diagnostic logs on stderr: -v for each step, request and batch, -vv for each photo and the libraries\' own logs. RUST_LOG, when set, replaces this choice (e.g. RUST_LOG=passerelle=debug)'
complete -c passerelle -n "__fish_passerelle_using_subcommand sync" -l no-progress -d 'Draw no progress bar. Bars show only when stderr is a terminal, and never with --quiet, --log-format json, --format json or events on stdout'
complete -c passerelle -n "__fish_passerelle_using_subcommand sync" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c passerelle -n "__fish_passerelle_using_subcommand sync" -s V -l version -d 'Print version'
