"""Examples of each command, as an operator types them: shown by `jailmgr help CMD` and in the EXAMPLES
section of each command's manual page (manpage.py), so the two say the same.

Each entry is (what it does, the command line).  tests/test_manpages.py checks that every command has
examples and that each example's command line is accepted by the parser.
"""

from __future__ import annotations

EXAMPLES: dict[str, list[tuple[str, str]]] = {
    "validate": [
        ("Check every jail file in /etc/jailmgr/jails.d.", "jailmgr validate"),
        ("Check one file, and also what apply would find on this host.", "jailmgr validate --host ftp.yaml"),
        ("Check an edited text before it is saved over the jail file.",
         "jailmgr validate --stdin-as /etc/jailmgr/jails.d/ftp.yaml < ftp.yaml.new"),
    ],
    "render": [
        ("Show the unit and the tree of the ftp jail, changing nothing.",
         "jailmgr render /etc/jailmgr/jails.d/ftp.yaml"),
    ],
    "schema": [
        ("Save the JSON Schema of jail files for an editor.", "jailmgr schema > jailmgr.schema.json"),
    ],
    "plan": [
        ("What apply would change for every jail file.", "jailmgr plan"),
        ("In a script: exit 2 when there are changes.", "jailmgr plan --detailed-exitcode"),
    ],
    "apply": [
        ("Build and start the ftp jail from the packaged example.",
         "cp /usr/share/doc/jailmgr/examples/ftp.yaml /etc/jailmgr/jails.d/ && jailmgr apply"),
        ("Converge every jail file, and destroy the managed jails whose file is gone.", "jailmgr apply --prune"),
        ("Converge one file only.", "jailmgr apply /etc/jailmgr/jails.d/ftp.yaml"),
    ],
    "status": [
        ("The state of every managed jail.", "jailmgr status"),
        ("The ftp jail, as JSON.", "jailmgr status --json ftp"),
    ],
    "list": [
        ("The jails jailmgr manages.", "jailmgr list"),
    ],
    "destroy": [
        ("Stop the ftp jail and remove its unit, tree and record (the bound host data stays).",
         "jailmgr destroy ftp"),
    ],
    "reload": [
        ("Tell nginx in its jail to read its configuration again.", "jailmgr reload nginx"),
    ],
    "logs": [
        ("The last 20 lines of the ftp jail's journal.", "jailmgr logs -n 20 ftp"),
        ("Follow it.", "jailmgr logs -f ftp"),
    ],
    "exec": [
        ("A shell inside the running ftp jail, if its tree has one.", "jailmgr exec ftp /bin/sh"),
        ("A command as another user.", "jailmgr exec --user nobody ftp /usr/bin/id"),
    ],
    "check": [
        ("Audit every managed jail: exposure, confinement of the running program, the tree.", "jailmgr check"),
        ("Audit the ftp jail only.", "jailmgr check ftp"),
    ],
    "stale": [
        ("Which running jails still use a library replaced since they started.", "jailmgr stale"),
        ("Restart them.", "jailmgr stale --restart"),
    ],
    "help": [
        ("The options and examples of apply.", "jailmgr help apply"),
        ("Its manual page.", "man jailmgr-apply"),
    ],
}
