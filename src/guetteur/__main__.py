from guetteur.cli import main

main()
