// An HTTP API handler in Node.js (an ES module; payload format 2.0): GET /greet/{name}.
//
// Demonstrates lambench's Node.js runtime: path and query parameters from an HttpApi event, a
// console line in the log tail, and a proxy response. ?shout=true answers in capitals.

let greeted = 0; // module state: kept while the environment stays warm

export const handler = async (event, context) => {
  const name = event.pathParameters?.name ?? 'world';
  const shout = event.queryStringParameters?.shout === 'true';
  greeted += 1;
  console.log(`greeting ${name} (${greeted} so far in this environment)`);
  const greeting = `hello ${name}`;
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      greeting: shout ? greeting.toUpperCase() : greeting,
      runtime: process.env.AWS_EXECUTION_ENV,
      requestId: context.awsRequestId,
    }),
  };
};
