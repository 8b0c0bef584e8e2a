// Every bench's entry: runs `main`, then exits 0, or prints the error and exits 1
// (a bench leaves Kafka clients, timers and stores behind that must not keep it alive).
export function runBench(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err)
      process.exit(1)
    },
  )
}
