from loganalyzer.cli import main

main()
