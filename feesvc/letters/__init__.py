"""Reminder and demand letters (催缴通知 / 催告函) and the compliance check every letter passes before it leaves.

``feesvc.letters.compliance`` holds the check (``check_text``, ``check_html``, ``check_pdf``, ``check_file``);
``feesvc.letters.check_cli`` is the ``feesvc letters check FILE`` command.
"""
