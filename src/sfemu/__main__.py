from sfemu.cli import main

main()
