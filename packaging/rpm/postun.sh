# %postun of the kronyd RPM: reload systemd; after an upgrade ($1 is 1 or more),
# restart a running kronyd so that it runs the new binary. State and the _krony user
# stay after an erase (RPM practice).
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -ge 1 ]; then
        systemctl try-restart kronyd.service >/dev/null 2>&1 || :
    fi
elif [ "$1" -ge 1 ]; then
    service kronyd condrestart >/dev/null 2>&1 || :
fi
exit 0
