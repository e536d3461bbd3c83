from operational.cli import main

main()
