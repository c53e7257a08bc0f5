// Sends numbered documents with the official Node Elasticsearch client's `bulk` until stdin
// closes or COUNT documents were acknowledged; prints one line per acknowledged document
// ("ack <message>") and per failed request ("error <name>"). No retries of its own: a request
// whose answer never came is not acknowledged, so what is printed was stored (exactly once).
// Environment: ES_URL (…/es), ES_API_KEY, LABEL, COUNT, BATCH.
import { Client } from '@elastic/elasticsearch'

const client = new Client({ node: process.env.ES_URL, auth: { apiKey: process.env.ES_API_KEY },
  maxRetries: 0, requestTimeout: 60000 })
const label = process.env.LABEL ?? 'node'
const count = Number(process.env.COUNT ?? '1000000')
const batch = Number(process.env.BATCH ?? '200')
let stop = false
process.stdin.on('end', () => { stop = true })
process.stdin.on('close', () => { stop = true })
process.stdin.resume()

const info = await client.info()
process.stdout.write(`info ${info.version.number}\n`)
let sent = 0
let acked = 0
let request = 0
while (!stop && acked < count) {
  const messages = []
  const operations = []
  for (let i = 0; i < batch; i++) {
    const message = `gt-es-sigkill ${label} r${request} l${i}`
    messages.push(message)
    operations.push({ create: { _index: 'logs-nodeapp-default' } }, { '@timestamp': new Date().toISOString(), message })
  }
  request++
  sent += batch
  process.stdout.write(`sent ${messages.join('|')}\n`)
  try {
    const answer = await client.bulk({ operations })
    answer.items.forEach((item, i) => {
      if (item.create.status === 201) { acked++; process.stdout.write(`ack ${messages[i]}\n`) }
    })
  } catch (error) {
    process.stdout.write(`error ${error.name}\n`)
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}
process.stdout.write(`done sent=${sent} acked=${acked}\n`)
