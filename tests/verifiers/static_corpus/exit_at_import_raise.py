# expect: exit-at-import
raise SystemExit(0)
