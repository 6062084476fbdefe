
use builtin;
use str;

set edit:completion:arg-completer[passerelle] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'passerelle'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'passerelle'= {
            cand --log-format 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors'
            cand --config 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]'
            cand -q 'Print only errors, rejected records and failed photos on stderr'
            cand --quiet 'Print only errors, rejected records and failed photos on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand parse 'Read a CRM export and print each listing as JSON, without storing anything'
            cand fetch 'Download an agency''s payload from its CRM into the staging folder, without importing it, and print the folder''s path'
            cand import 'Import a CRM export into the database as the agency''s full list of listings'
            cand completions 'Print a shell completion script to stdout'
            cand man 'Print the man page to stdout, or write every page to a directory'
            cand crms 'List the CRMs passerelle can import, with their transport and format'
            cand runs 'List recent import runs, newest first, or show one run with its rejected records, warnings and failed photos (`passerelle runs show ID`). The PHOTOS column counts stored/reused/failed photos'
            cand config 'Work with the settings file'
            cand media 'Look after the media directory of rendered photos'
            cand sync 'Fetch and import every integration of the settings file, or those named, keep going past failures, and print one line per integration'
        }
        &'passerelle;parse'= {
            cand --encoding 'Text encoding of the listings file; `auto` picks UTF-8 when the whole file is valid UTF-8, else Windows-1252'
            cand --crm 'CRM the export comes from; `passerelle crms` lists them'
            cand --format 'Output: one JSON listing per line, or a table for people'
            cand --explain 'Show record N (1 is the first record) column by column: rank, specification name, raw value and the listing field it became'
            cand --log-format 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors'
            cand --config 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]'
            cand --all-columns 'With --explain, also list the empty columns'
            cand -q 'Print only errors, rejected records and failed photos on stderr'
            cand --quiet 'Print only errors, rejected records and failed photos on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'passerelle;fetch'= {
            cand --integration 'Integration, by its `name` in the settings file; it supplies the CRM, agency, organization, agent mapping and credentials'
            cand --crm 'CRM code (or from --integration); `passerelle crms` lists them'
            cand --agency 'The agency''s code in the CRM (Poliris column 1, the Apimo agency id). Records of other agencies in a grouped file are skipped; `passerelle parse` lists the codes a file holds'
            cand --staging-dir 'Folder that receives <crm>/<agency>/<UTC time>/ [default: `staging.path` of the settings file, else ./staging]'
            cand --log-format 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors'
            cand --config 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]'
            cand -q 'Print only errors, rejected records and failed photos on stderr'
            cand --quiet 'Print only errors, rejected records and failed photos on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'passerelle;import'= {
            cand --encoding 'Text encoding of the listings file; `auto` picks UTF-8 when the whole file is valid UTF-8, else Windows-1252'
            cand --integration 'Integration, by its `name` in the settings file; it supplies the CRM, agency, organization, agent mapping and credentials'
            cand --crm 'CRM code (or from --integration); `passerelle crms` lists them'
            cand --agency 'The agency''s code in the CRM (Poliris column 1, the Apimo agency id). Records of other agencies in a grouped file are skipped; `passerelle parse` lists the codes a file holds'
            cand --database 'SQLite database file, created when missing, or a postgres://user:password@host/db URL; also read from PASSERELLE_DATABASE [default: PASSERELLE_DATABASE_URL, else `database.url` or `database.path` of the settings file, else passerelle.db]'
            cand --organization 'Organization the listings belong to on our side'
            cand --default-agent 'Agent given to listings whose negotiator is not in the agent mapping'
            cand --agent 'Map a CRM negotiator code or contact e-mail to an agent; repeatable'
            cand --format 'Summary format: text on stderr for people, or one JSON object on stdout for programs'
            cand --log-format 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors'
            cand --config 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]'
            cand --allow-mass-withdrawal 'Withdraw missing listings even when a guard would stop it: an export with no valid listing, one that would withdraw more than half of the active listings, or one much smaller than the last'
            cand --force 'Withdraw missing listings even when a guard would stop it: an export with no valid listing, one that would withdraw more than half of the active listings, or one much smaller than the last'
            cand --dry-run 'Read and check everything, report what would change, write nothing'
            cand --wait 'Wait for another process''s import of the same agency to end, instead of stopping with exit status 5'
            cand --no-photos 'Import the listing data only; photos are neither fetched nor checked'
            cand --photos-only 'Process only the photos that earlier runs left pending or failed, without importing listings. `import` takes archive photos from its INPUT; `sync` fetches nothing'
            cand --refresh-photos 'Download again the stored photos whose server sent no ETag or Last-Modified; without this flag they count as unchanged while their URL is'
            cand -q 'Print only errors, rejected records and failed photos on stderr'
            cand --quiet 'Print only errors, rejected records and failed photos on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'passerelle;completions'= {
            cand --log-format 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors'
            cand --config 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]'
            cand -q 'Print only errors, rejected records and failed photos on stderr'
            cand --quiet 'Print only errors, rejected records and failed photos on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'passerelle;man'= {
            cand --output-dir 'Write passerelle.1 and one page per subcommand (passerelle-import.1, …) into this directory instead of printing passerelle.1'
            cand --log-format 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors'
            cand --config 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]'
            cand -q 'Print only errors, rejected records and failed photos on stderr'
            cand --quiet 'Print only errors, rejected records and failed photos on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'passerelle;crms'= {
            cand --format 'Output: a table for people, or one JSON array for programs'
            cand --log-format 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors'
            cand --config 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]'
            cand -q 'Print only errors, rejected records and failed photos on stderr'
            cand --quiet 'Print only errors, rejected records and failed photos on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'passerelle;runs'= {
            cand --integration 'Integration, by its `name` in the settings file; it supplies the CRM, agency, organization, agent mapping and credentials'
            cand --crm 'CRM code (or from --integration); `passerelle crms` lists them'
            cand --agency 'The agency''s code in the CRM (Poliris column 1, the Apimo agency id). Records of other agencies in a grouped file are skipped; `passerelle parse` lists the codes a file holds'
            cand --status 'Only runs with this status'
            cand --limit 'Number of runs listed'
            cand --database 'SQLite database file, or a postgres://user:password@host/db URL; also read from PASSERELLE_DATABASE [default: PASSERELLE_DATABASE_URL, else `database.url` or `database.path` of the settings file, else passerelle.db]'
            cand --format 'Output: a table for people, or JSON for programs'
            cand --log-format 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors'
            cand --config 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]'
            cand -q 'Print only errors, rejected records and failed photos on stderr'
            cand --quiet 'Print only errors, rejected records and failed photos on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand show 'Show one run: its counts, status, error, rejected records and warnings'
        }
        &'passerelle;runs;show'= {
            cand --database 'SQLite database file, or a postgres://user:password@host/db URL; also read from PASSERELLE_DATABASE [default: PASSERELLE_DATABASE_URL, else `database.url` or `database.path` of the settings file, else passerelle.db]'
            cand --format 'Output: a table for people, or JSON for programs'
            cand --log-format 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors'
            cand --config 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]'
            cand -q 'Print only errors, rejected records and failed photos on stderr'
            cand --quiet 'Print only errors, rejected records and failed photos on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'passerelle;config'= {
            cand --log-format 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors'
            cand --config 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]'
            cand -q 'Print only errors, rejected records and failed photos on stderr'
            cand --quiet 'Print only errors, rejected records and failed photos on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand check 'Check a settings file and report every problem with its key path: unknown keys, unknown CRM codes, repeated names, invalid values and environment variables that are not set. Exit status 2 when any'
            cand crontab 'Print crontab lines that sync each integration on its `schedule`, with absolute paths to this program and the settings file'
        }
        &'passerelle;config;check'= {
            cand --log-format 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors'
            cand --config 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]'
            cand -q 'Print only errors, rejected records and failed photos on stderr'
            cand --quiet 'Print only errors, rejected records and failed photos on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'passerelle;config;crontab'= {
            cand --log-format 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors'
            cand --config 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]'
            cand -q 'Print only errors, rejected records and failed photos on stderr'
            cand --quiet 'Print only errors, rejected records and failed photos on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'passerelle;media'= {
            cand --log-format 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors'
            cand --config 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]'
            cand -q 'Print only errors, rejected records and failed photos on stderr'
            cand --quiet 'Print only errors, rejected records and failed photos on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand gc 'Remove the photo files that no listing''s photo refers to any more: photos dropped from their listing, or of deleted listings. Imports never remove files; this does, when run'
        }
        &'passerelle;media;gc'= {
            cand --database 'Database whose photos are kept: a SQLite file or a postgres://user:password@host/db URL; also read from PASSERELLE_DATABASE [default: PASSERELLE_DATABASE_URL, else `database.url` or `database.path` of the settings file, else passerelle.db]'
            cand --min-age-minutes 'Keep unreferenced files younger than this many minutes: an import running now writes files before it records them'
            cand --format 'Summary: text on stderr for people, or one JSON object on stdout'
            cand --log-format 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors'
            cand --config 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]'
            cand --dry-run 'Count what would be removed, remove nothing'
            cand -q 'Print only errors, rejected records and failed photos on stderr'
            cand --quiet 'Print only errors, rejected records and failed photos on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'passerelle;sync'= {
            cand --integration 'Integration to sync, by its `name` in the settings file; repeatable [default: every integration]'
            cand --crm 'Only the integrations of this CRM'
            cand --jobs 'Integrations synced at the same time'
            cand --database 'SQLite database file, or a postgres://user:password@host/db URL; also read from PASSERELLE_DATABASE [default: PASSERELLE_DATABASE_URL, else `database.url` or `database.path` of the settings file, else passerelle.db]'
            cand --staging-dir 'Folder that receives the fetched payloads [default: `staging.path` of the settings file, else ./staging]'
            cand --format 'Summary: a table for people, or JSON for programs'
            cand --log-format 'Format of the messages on stderr: `json` writes one object per line with `time`, `level` and `message`, for log collectors'
            cand --config 'Settings file; also read from PASSERELLE_CONFIG [default: $XDG_CONFIG_HOME/passerelle/config.toml when it exists]'
            cand --force 'Withdraw missing listings even when a guard would stop it'
            cand --retry-failed 'Sync only the integrations whose last run failed or was interrupted'
            cand --wait 'Wait for another process''s run of the same agency to end, instead of skipping that agency with the locked status'
            cand --dry-run 'Fetch and compare everything, write nothing to the database'
            cand --no-photos 'Import the listing data only; photos are neither fetched nor checked'
            cand --photos-only 'Process only the photos that earlier runs left pending or failed, without importing listings. `import` takes archive photos from its INPUT; `sync` fetches nothing'
            cand --refresh-photos 'Download again the stored photos whose server sent no ETag or Last-Modified; without this flag they count as unchanged while their URL is'
            cand -q 'Print only errors, rejected records and failed photos on stderr'
            cand --quiet 'Print only errors, rejected records and failed photos on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
    ]
    $completions[$command]
}
