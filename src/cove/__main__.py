from cove.cli import main

raise SystemExit(main())
