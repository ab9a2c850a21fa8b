from mailherd.cli import main

main()
