from eventinvoke.cli import main

main()
